"""Where the firmware's sources are, and facts read from them without
importing them (the firmware's modules import what only a board has)."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
VIRTUAL = FIRMWARE / "virtual"     # the peripheral fakes of the virtual board, never deployed
# What a board's flash holds, as (source folder, place on the flash, patterns
# left out): the app at the root, the portable core and the drivers as
# libraries (their chip models stay on the PC).
TREES = ((FIRMWARE, ".", ("virtual/*", "virtual/**", "*.md", "manifest.py")),
         (ROOT / "neocampus", "lib/neocampus", ()),
         (ROOT / "drivers", "lib/drivers", ("sim/*", "sim/**")))


def trees(flash_dir):
    """TREES with their places under flash_dir: [(source, destination, exclude)]."""
    flash_dir = pathlib.Path(flash_dir)
    return [(src, flash_dir / place if place != "." else flash_dir, exclude) for src, place, exclude in TREES]


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
