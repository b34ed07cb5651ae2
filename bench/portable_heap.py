"""Smallest MicroPython heap each portable test module passes with.

Runs tests/upy_runner.py on a module exactly as tests/harness.py does (same .mpy
compilation from MICROPYTHON_MPY, same import path through fixed-length
symlinks: harness.run_portable) at every heap size from LO to HI KB, and prints a row of +/. per size.
Fragmentation makes pass/fail non-monotonic (a module can pass at 36k, fail at
37k), so the figure reported is the size from which every larger size up to HI
passes. Moving path strings by a few characters moves a module by about 1 KB:
read the figures +-1k.

    python bench/portable_heap.py [--lo 24] [--hi 40] [tests/portable/test_x.py ...]
"""
import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neoc import micropython as upy  # noqa: E402
from tests import harness  # noqa: E402


def passes(path, kb):
    """True when every test_* function of the module reports ok (or skip) at kb KB."""
    names = [line[4:].split("(")[0] for line in path.read_text().splitlines()
             if line.startswith("def test_")]
    proc = harness.run_portable(path, "%dk" % kb)
    status = {}
    for line in proc.stdout.splitlines():
        if line.startswith("\x01") and not line.startswith("\x01end"):
            name, st = line[1:].split("\t")
            status[name] = st
    return proc.returncode == 0 and all(status.get(n) in ("ok", "skip") for n in names)


def scan(path, lo, hi):
    path = pathlib.Path(path)
    source = path.read_text()
    row = "".join("+" if passes(path, kb) else "." for kb in range(lo, hi + 1))
    stable = None
    for kb in range(hi, lo - 1, -1):
        if row[kb - lo] != "+":
            break
        stable = kb
    m = harness.HEAP_RE.search(source)
    return row, stable, (m.group(1) if m else "36k")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lo", type=int, default=24)
    ap.add_argument("--hi", type=int, default=40)
    ap.add_argument("modules", nargs="*")
    args = ap.parse_args()
    reason = upy.unavailable_reason()
    if reason:
        sys.exit(reason)
    modules = args.modules or sorted(str(p) for p in harness.PORTABLE_DIR.glob("test_*.py"))
    print("%-36s %s  (heap %d..%d KB)" % ("module", "pass per KB", args.lo, args.hi))
    for mod in modules:
        row, stable, heap = scan(mod, args.lo, args.hi)
        print("%-36s %s  min %s (runs at %s)" % (pathlib.Path(mod).name, row,
                                                  "%dk" % stable if stable else "> %dk" % args.hi,
                                                  heap), flush=True)


if __name__ == "__main__":
    main()
