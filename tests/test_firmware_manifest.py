"""firmware/manifest.py (freeze manifest of a real board build) names exactly
the modules that deploy() puts on a board's flash, minus boot.py/main.py."""
import pathlib

from harness import ROOT
from provisioning.virtual_board import deploy

FIRMWARE = ROOT / "firmware"


def frozen_files():
    got = set()

    def package(name, files=None, base_path=".", opt=None):
        base = (FIRMWARE / base_path / name).resolve()
        assert base.is_dir(), base
        if files is None:
            paths = [p for p in base.rglob("*.py") if "__pycache__" not in p.parts]
        else:
            paths = [base / f for f in files]
        for p in paths:
            assert p.exists(), p
            got.add(name + "/" + p.relative_to(base).as_posix())

    def include(path):
        assert path == "$(PORT_DIR)/boards/manifest.py"

    exec((FIRMWARE / "manifest.py").read_text(), {"package": package, "include": include})
    return got


def test_manifest_freezes_what_deploy_ships(tmp_path):
    flash = tmp_path / "flash"
    deploy(flash, source=True)
    shipped = set()
    for p in flash.rglob("*.py"):
        rel = p.relative_to(flash)
        if rel.parts[0] == "lib":
            rel = pathlib.PurePosixPath(*rel.parts[1:])
        shipped.add(rel.as_posix())
    assert {"boot.py", "main.py"} <= shipped
    assert not any(p.startswith("drivers/sim/") for p in shipped)
    assert not (flash / "manifest.py").exists() and not (flash / "README.md").exists()
    assert frozen_files() == shipped - {"boot.py", "main.py"}
