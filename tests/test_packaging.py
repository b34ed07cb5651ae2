"""What a wheel of the project holds: every tracked file of its packages
(firmware sources and vendored libraries, the first-boot scripts, the JSON
Schemas, the static pages, the READMEs), as pyproject.toml's package-data
must say.

Cheap stand-in for `python -m build --wheel`: setuptools' own build_py (the
step that picks the wheel's files) run on a copy of the tracked files, with
the venv's setuptools and no network. The full build, a fresh venv and its
commands were checked by hand (noobs_image/README.md, "Packaging")."""
import shutil
import subprocess
import sys
import tomllib

import pytest

from support.agent_helpers import ROOT

PACKAGES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
# The files the commands read at run time: `neoc image build`, `neoc flash`, `neoc server`, the agent's display.
NEEDED = ["noobs_image/scripts/firstboot.sh", "noobs_image/scripts/partition_setup.sh",
          "noobs_image/schemas/os.schema.json", "noobs_image/schemas/imager_os_list.schema.json",
          "provisioning/static/index.html", "rpi_agent/static/display.html", "firmware/boot.py",
          "firmware/main.py", "firmware/lib/umqtt/simple.py", "toolchain/wasm_run.mjs"]


def tracked():
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    r = subprocess.run([git, "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True)
    return [f for f in r.stdout.decode().split("\0") if f]


def test_a_build_holds_every_tracked_file_of_the_packages(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    roots = tuple(p.rstrip("*") + "/" for p in PACKAGES)
    mine = [f for f in tracked() if f.startswith(roots) and "/__pycache__/" not in f]
    for f in mine + ["pyproject.toml", "README.md"]:
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / f).exists():  # a tracked file deleted in the work tree is not built either
            shutil.copy2(ROOT / f, src / f)
    r = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
                        "--build-lib", str(out)], cwd=src, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    built = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    missing = sorted(f for f in mine if (ROOT / f).exists() and f not in built)
    assert missing == [], "tracked but not in the wheel (pyproject.toml package-data): %s" % missing
    assert set(NEEDED) <= built
