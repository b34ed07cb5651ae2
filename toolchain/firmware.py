"""Where the firmware's sources are, and facts read from them without
importing them (the firmware's modules import what only a board has)."""
import ast
import contextlib
import pathlib
import re
import shutil
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
VIRTUAL = FIRMWARE / "virtual"     # the peripheral fakes of the virtual board, never deployed
# What a board's flash holds, as (source folder, place on the flash, patterns
# left out): the app at the root, the portable core and the drivers as
# libraries (their chip models and the wiring advice stay on the PC).
TREES = ((FIRMWARE, ".", ("virtual/*", "virtual/**", "*.md", "manifest.py")),
         (ROOT / "neocampus", "lib/neocampus", ()),
         (ROOT / "drivers", "lib/drivers", ("sim/*", "sim/**", "wiring/*", "wiring/**")))


def trees(flash_dir, firmware=FIRMWARE):
    """TREES with their places under flash_dir: [(source, destination,
    exclude)]; firmware: the app's sources (a stamped copy, stamped())."""
    flash_dir = pathlib.Path(flash_dir)
    return [(firmware if src == FIRMWARE else src, flash_dir / place if place != "." else flash_dir, exclude)
            for src, place, exclude in TREES]


# The firmware's revision: app.py's `_REVISION = const(YYMMDD)`, folded into
# its code (the loop pays no global for it) and said in its `device` status.
_REVISION_LINE = re.compile(r"^_REVISION = const\((\d+)\)", re.M)
APP = pathlib.Path("neosensor") / "app.py"


def revision(firmware=FIRMWARE):
    """The revision of a firmware source tree (YYMMDD, as the OTA manifests)."""
    m = _REVISION_LINE.search((pathlib.Path(firmware) / APP).read_text())
    if not m:
        raise ValueError("%s: no `_REVISION = const(YYMMDD)` line" % (pathlib.Path(firmware) / APP))
    return int(m.group(1))


@contextlib.contextmanager
def stamped(rev=None):
    """The firmware's source folder, or with rev a temporary copy of it whose
    app.py says revision rev: a release is stamped when it is built, so the
    board's status says what it runs."""
    if rev is None or rev == revision():
        yield FIRMWARE
        return
    if not isinstance(rev, int) or isinstance(rev, bool) or not 0 < rev < 1000000:
        raise ValueError("revision %r: a YYMMDD number" % (rev,))
    with tempfile.TemporaryDirectory(prefix="neoc-rev-") as tmp:
        copy = pathlib.Path(tmp) / "firmware"
        shutil.copytree(FIRMWARE, copy, ignore=shutil.ignore_patterns("__pycache__"))
        app = copy / APP
        app.write_text(_REVISION_LINE.sub("_REVISION = const(%d)" % rev, app.read_text(), count=1))
        yield copy


def _assignments(path):
    for node in ast.parse(pathlib.Path(path).read_text(), str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            yield node.targets[0].id, node.value


def literal(path, name):
    """The value of `name = <literal>` at the top level of a firmware file."""
    for target, value in _assignments(path):
        if target == name:
            try:
                return ast.literal_eval(value)
            except ValueError:
                raise ValueError("%s: %s is no literal" % (path, name)) from None
    raise ValueError("%s: no top-level %s = ..." % (path, name))


def int_constants(path):
    """{NAME: int} of a file's top-level `UPPER_CASE = <int>` lines."""
    return {target: value.value for target, value in _assignments(path)
            if target.isupper() and isinstance(value, ast.Constant) and type(value.value) is int}
