"""Write CANDIDATES, the I2C scan's table (address -> candidate drivers in
probe order), into its marked place in drivers/scan.py, from the driver
classes themselves (CPython).

    .venv/bin/python tools/gen_chip_table.py           # or: make chips
    .venv/bin/python tools/gen_chip_table.py --check   # exit 1 if the table is stale

A driver module is a drivers/*.py file with a class declaring ADDRESSES. Each
such class also declares _IDENTITY, how much its constructor's identity check
proves (3: a fixed ID register or a CRC-checked serial number; 2: part of an
ID, or a status word with a CRC; 1: a register pattern; 0: no check beyond a
read that parses). It is a hidden const(): the board's heap never holds it.
Where drivers share an address, the strongest check is tried first, since a
weak one (the DAC's) could accept a chip a strong one tells apart; two equal
checks at one address are refused, as their order would be a guess.

The board cannot afford to import every driver to learn this (drivers.scan
imports only the drivers whose address answers), hence a generated table. It
lives in scan.py, not a module of its own: a module's names (qstrs) stay in
the set-up phase's heap to its end, 128 B measured at 36k, where a 320 B
allocation of the handshake has failed.
"""
import argparse
import ast
import importlib
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DRIVERS = ROOT / "drivers"
OUTPUT = DRIVERS / "scan.py"
COMMAND = "`make chips` (or `.venv/bin/python tools/gen_chip_table.py`)"

BEGIN = "# -- begin of the generated table: tools/gen_chip_table.py (`make chips`); do not edit --"
END = "# -- end of the generated table --"
NOTE = """\
# From the driver classes' ADDRESSES and _IDENTITY. I2C address -> candidate
# (driver module, class) in probe order, the strongest identity check first.
# A driver's tuple is written alike at each of its addresses: the compiler
# (MicroPython's as CPython's) keeps one constant for equal tuples in a
# module, so it is one object, with no global name (a qstr) to share it."""


class TableError(ValueError):
    pass


def _declares_addresses(path):
    # Read, not imported: scan.py (which holds this table) and the bus
    # adapters are not drivers, and nothing here may need the table to load.
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
                if any(isinstance(t, ast.Name) and t.id == "ADDRESSES" for t in targets):
                    return True
    return False


def driver_classes(drivers_dir=DRIVERS, package="drivers"):
    """The driver classes of drivers/*.py that declare ADDRESSES, sorted by
    (module, class name)."""
    if str(drivers_dir.parent) not in sys.path:
        sys.path.insert(0, str(drivers_dir.parent))
    found = []
    for path in sorted(drivers_dir.glob("*.py")):
        if path.name.startswith("_") or not _declares_addresses(path):
            continue
        mod = importlib.import_module("%s.%s" % (package, path.stem))
        for name, obj in sorted(vars(mod).items()):
            if isinstance(obj, type) and obj.__module__ == mod.__name__ and "ADDRESSES" in vars(obj):
                found.append(obj)
    return found


def table(classes):
    """{address: [(module, class name), ...]} in probe order."""
    by_address = {}
    for cls in classes:
        where = "%s.%s" % (cls.__module__, cls.__name__)
        if "_IDENTITY" not in vars(cls):
            raise TableError("%s declares ADDRESSES but no _IDENTITY (how strong its identity check is: "
                             "3 ID register/serial with CRC .. 0 none); add it next to ADDRESSES" % where)
        strength = vars(cls)["_IDENTITY"]
        if not isinstance(strength, int) or isinstance(strength, bool) or strength < 0:
            raise TableError("%s._IDENTITY = %r: want an int >= 0" % (where, strength))
        for address in cls.ADDRESSES:
            if not isinstance(address, int) or not 0x08 <= address <= 0x77:
                shown = "0x%02x" % address if isinstance(address, int) else repr(address)
                raise TableError("%s.ADDRESSES: %s is no 7-bit I2C address (0x08..0x77)" % (where, shown))
            by_address.setdefault(address, []).append((strength, cls.__module__, cls.__name__))
    out = {}
    for address, entries in sorted(by_address.items()):
        entries.sort(key=lambda e: (-e[0], e[1], e[2]))
        for a, b in zip(entries, entries[1:]):
            if a[0] == b[0]:
                raise TableError("0x%02x: %s.%s and %s.%s both have _IDENTITY = %d: give the one whose "
                                 "check is more specific the higher value" % (address, a[1], a[2], b[1], b[2], a[0]))
        out[address] = [(m, c) for _, m, c in entries]
    return out


def render(tab):
    """The generated region (markers included) for a table() result."""
    lines = [BEGIN, NOTE, "CANDIDATES = {"]
    for address, entries in sorted(tab.items()):
        # Identifiers only (module paths, class names): no quoting to get wrong.
        lines.append('    0x%02X: (%s),' % (address, " ".join('("%s", "%s"),' % e for e in entries)))
    lines += ["}", END]
    return "\n".join(lines)


def splice(text, region):
    """`text` with its generated region replaced by `region`."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise TableError("want one %r line, then one %r line, around the table" % (BEGIN, END))
    return text[:text.index(BEGIN)] + region + text[text.index(END) + len(END):]


def generate(path=OUTPUT):
    """`path`'s text with a table regenerated from the driver classes."""
    return splice(path.read_text(), render(table(driver_classes())))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the file differs from what would be written")
    ap.add_argument("--output", type=pathlib.Path, default=OUTPUT, help="default: %(default)s")
    args = ap.parse_args(argv)
    try:
        text = generate(args.output)
    except (TableError, OSError) as e:
        print("gen_chip_table: %s" % e, file=sys.stderr)
        return 2
    current = args.output.read_text()
    if args.check:
        if current != text:
            print("the table in %s is stale (the driver classes changed): run %s" % (args.output, COMMAND),
                  file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.output.write_text(text)
        print("wrote %s" % args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
