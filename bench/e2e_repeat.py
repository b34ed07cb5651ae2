"""The firmware's end-to-end test file run N times, its boards' consoles
searched for memory errors (issue 13: "no MemoryError is printed over the
whole e2e file run 20 times").

Each run is `pytest tests/test_firmware_e2e.py` with NEOC_E2E_HEAP set to the
heap under test and NEOC_E2E_CONSOLE to a folder where the test file writes
every board's whole console. Counted per run: tests passed and failed,
console lines naming a MemoryError (a traceback's or a caught one said), and
the firmware's own "out of memory" lines (a MemoryError it caught and
survived: a turn, an order or a message dropped). A benchmark, not a CI test:
20 runs take about 20 minutes.

    .venv/bin/python bench/e2e_repeat.py [--runs 20] [--heap 45k]
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from virtual_board import DEFAULT_HEAP  # noqa: E402

SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors|skipped)")


def one_run(heap, work, timeout):
    """(passed, failed, MemoryError lines, out-of-memory lines, example line, seconds)."""
    work.mkdir(parents=True)
    env = dict(os.environ, NEOC_E2E_HEAP=heap, NEOC_E2E_CONSOLE=str(work))
    t0 = time.monotonic()
    try:
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              str(ROOT / "tests" / "test_firmware_e2e.py")], cwd=ROOT, env=env,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        text = out.stdout
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        text += "\n1 failed (timeout)"
    took = time.monotonic() - t0
    counts = {}
    for line in text.splitlines()[-3:]:
        for n, what in SUMMARY.findall(line):
            counts[what] = counts.get(what, 0) + int(n)
    failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    mem = oom = 0
    example = None
    logs = sorted(work.glob("*.log"))
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if "MemoryError" in line:
                mem += 1
                example = example or "%s: %s" % (log.stem, line.strip()[:120])
            elif "out of memory" in line:
                oom += 1
                example = example or "%s: %s" % (log.stem, line.strip()[:120])
    if not logs:
        failed = failed or 1
        example = "no console written: %s" % (text.strip().splitlines()[-1:] or ["pytest said nothing"])[0]
    return counts.get("passed", 0), failed, mem, oom, example, took


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--runs", type=int, default=20, help="runs of the test file (default 20)")
    ap.add_argument("--heap", default=DEFAULT_HEAP,
                    help="the firmware's heap in every run (default %s, the virtual board's)" % DEFAULT_HEAP)
    ap.add_argument("--timeout", type=float, default=900, help="seconds one run may take (default 900)")
    args = ap.parse_args(argv)
    totals = [0, 0, 0, 0]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="neoc-e2e-repeat-") as tmp:
        for i in range(args.runs):
            passed, failed, mem, oom, example, took = one_run(args.heap, pathlib.Path(tmp) / str(i), args.timeout)
            for k, v in enumerate((passed, failed, mem, oom)):
                totals[k] += v
            print("run %2d/%d at %s: %d passed, %d failed, %d MemoryError lines, %d out-of-memory lines "
                  "(%.0f s)%s" % (i + 1, args.runs, args.heap, passed, failed, mem, oom, took,
                                  "\n    first: " + example if example else ""), flush=True)
    print("e2e file x%d at %s: %d tests passed, %d failed; MemoryError lines in the boards' consoles: %d; "
          "out-of-memory lines (caught): %d; %.0f s" % (args.runs, args.heap, totals[0], totals[1], totals[2],
                                                         totals[3], time.monotonic() - t0))
    return 1 if totals[1] else 0


if __name__ == "__main__":
    sys.exit(main())
