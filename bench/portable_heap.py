"""Smallest MicroPython heap each portable test module passes with.

Runs tests/upy_runner.py on a module exactly as tests/harness.py does (same .mpy
compilation from MICROPYTHON_MPY, same import path through fixed-length
symlinks: harness.run_portable) at every heap size from LO to HI KB, and prints a row of +/. per size.
Fragmentation makes pass/fail non-monotonic (a module can pass at 36k, fail at
37k), so the figure reported is the size from which every larger size up to HI
passes. Moving path strings by a few characters moves a module by about 1 KB:
read the figures +-1k.

A module that does not pass even at HI has no figure: the bench says why (the
last line of the first failing test's traceback, or of the VM's output) and
exits 1, so that a broken runner or harness fails tests/test_bench_quick.py
instead of printing a row of dots. --quick: two small modules (QUICK), from
12 KB up so that both have a figure below the range's top.

    python bench/portable_heap.py [--quick] [--lo 24] [--hi 45] [tests/portable/test_x.py ...]
"""
import argparse
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolchain import micropython as upy  # noqa: E402
from tests import harness  # noqa: E402

QUICK = ("test_ids.py", "test_drivers_mcp9808.py")


def last_line(text):
    lines = [x.strip() for x in (text or "").splitlines() if x.strip()]
    return lines[-1] if lines else None


def trial(path, names, kb):
    """None when every test_* function of the module reports ok (or skip) at kb
    KB, else why not (one line)."""
    try:
        proc = harness.run_portable(path, "%dk" % kb)
    except subprocess.TimeoutExpired as e:
        return "timed out after %s s" % e.timeout
    status, detail, current = {}, {}, None
    for line in proc.stdout.splitlines():
        if line.startswith("\x01end"):
            current = None
        elif line.startswith("\x01"):
            current, _, st = line[1:].partition("\t")
            status[current] = st
        elif current and line.strip():
            detail[current] = line.strip()     # the traceback's last line wins
    for n in names:
        if status.get(n) not in ("ok", "skip"):
            if n in status:
                return "%s %s: %s" % (n, status[n], detail.get(n, "no traceback"))
            return "%s not reported (VM exit %d: %s)" % (
                n, proc.returncode, last_line(proc.stderr) or last_line(proc.stdout) or "no output")
    if proc.returncode != 0:
        return "VM exit %d: %s" % (proc.returncode, last_line(proc.stderr) or last_line(proc.stdout))
    return None


def scan(path, lo, hi):
    """(row of +/., smallest stable KB or None, heap the suite runs it at, why
    it fails at hi or None, the top of its range). A module that declares a
    heap of its own above hi (MICROPYTHON_HEAP: a bus of many chips, not a
    board's load) is measured up to that heap."""
    path = pathlib.Path(path)
    source = path.read_text()
    names = [line[4:].split("(")[0] for line in source.splitlines() if line.startswith("def test_")]
    m = harness.HEAP_RE.search(source)
    heap = m.group(1) if m else harness.DEFAULT_HEAP
    if m:
        hi = max(hi, int(heap.rstrip("kK")))
    if not names:
        return "", None, heap, "no `def test_` function found in the module", hi
    notes = {kb: trial(path, names, kb) for kb in range(lo, hi + 1)}
    row = "".join("." if notes[kb] else "+" for kb in range(lo, hi + 1))
    stable = None
    for kb in range(hi, lo - 1, -1):
        if notes[kb]:
            break
        stable = kb
    return row, stable, heap, notes[hi], hi


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only %s" % ", ".join(QUICK))
    ap.add_argument("--lo", type=int, default=None, help="default 24 (12 with --quick)")
    ap.add_argument("--hi", type=int, default=int(harness.DEFAULT_HEAP.rstrip("kK")),
                    help="default %s, the heap the suite runs a module at unless it declares one" % harness.DEFAULT_HEAP)
    ap.add_argument("modules", nargs="*")
    args = ap.parse_args(argv)
    if args.lo is None:
        args.lo = 12 if args.quick else 24
    if args.lo > args.hi:
        ap.error("--lo %d is above --hi %d" % (args.lo, args.hi))
    reason = upy.unavailable_reason()
    if reason:
        print("bench/portable_heap.py: cannot run here: %s" % reason)
        return 2
    t0 = time.monotonic()
    if args.modules:
        modules = args.modules
    elif args.quick:
        modules = [str(harness.PORTABLE_DIR / name) for name in QUICK]
    else:
        modules = sorted(str(p) for p in harness.PORTABLE_DIR.glob("test_*.py"))
    print("%-36s %s  (heap from %d KB to %d KB or the heap it runs at)" % ("module", "pass per KB", args.lo, args.hi))
    missing = []
    for mod in modules:
        name = pathlib.Path(mod).name
        row, stable, heap, why, hi = scan(mod, args.lo, args.hi)
        if stable is None:
            missing.append((name, "fails at %d KB: %s" % (hi, why)))
            figure = "> %dk" % hi
        else:
            # Passing at lo says only that its minimum is lo or less.
            figure = ("<= %dk" if stable == args.lo else "%dk") % stable
        print("%-36s %s  min %s (runs at %s)" % (name, row, figure, heap), flush=True)
    print("run time %.1f s" % (time.monotonic() - t0))
    if missing:
        print("NOT MEASURED (%d modules):" % len(missing))
        for name, why in missing:
            print("  %s: %s" % (name, why))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
