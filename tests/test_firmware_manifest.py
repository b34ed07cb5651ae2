"""firmware/manifest.py (freeze manifest of a real board build) names exactly
the modules that deploy() puts on a board's flash, minus boot.py/main.py."""
import os
import pathlib
import shutil

from harness import ROOT
from toolchain.deploy import deploy

FIRMWARE = ROOT / "firmware"


def frozen_files(firmware=FIRMWARE):
    """The files the manifest freezes, as package/path. It is run as
    MicroPython's makemanifest runs it: exec'd with the manifest's folder as
    the current directory, its package() and include() as globals."""
    got = set()

    def package(name, files=None, base_path=".", opt=None):
        base = (pathlib.Path(base_path) / name).resolve()
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

    cwd = os.getcwd()
    os.chdir(firmware)
    try:
        exec((firmware / "manifest.py").read_text(), {"package": package, "include": include})
    finally:
        os.chdir(cwd)
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
    assert {"drivers/scan.py", "drivers/mcp9808.py", "neosensor/setup.py"} <= shipped
    assert not any(p.startswith("drivers/sim/") for p in shipped)
    assert not (flash / "manifest.py").exists() and not (flash / "README.md").exists()
    assert frozen_files() == shipped - {"boot.py", "main.py"}


def test_a_new_driver_file_is_frozen_without_editing_the_manifest(tmp_path):
    # The manifest beside a copy of the tree with one more driver (and one
    # more chip model, which stays out).
    tree = tmp_path / "tree"
    shutil.copytree(FIRMWARE, tree / "firmware", ignore=shutil.ignore_patterns("virtual", "__pycache__"))
    for pkg in ("neocampus", "drivers"):
        shutil.copytree(ROOT / pkg, tree / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "drivers" / "newchip.py").write_text("class NEWCHIP:\n    pass\n")
    (tree / "drivers" / "sim" / "newchip.py").write_text("class NEWCHIPModel:\n    pass\n")
    before = frozen_files()
    after = frozen_files(tree / "firmware")
    assert after - before == {"drivers/newchip.py"}
    assert before - after == set()
