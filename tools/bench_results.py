"""`make bench`: run every benchmark under bench/ and write bench/RESULTS.md.

Each benchmark's output goes to the console as it runs and into its own
section of RESULTS.md, with the command, its exit status, how long it took
and when; the file's head says which machine. Nothing in RESULTS.md is
written by hand: run this again to refresh it. `--only NAME` (repeatable)
runs those benchmarks and keeps the other sections as they were.

    .venv/bin/python tools/bench_results.py [--only fleet] [--only registry]

Exits 1 when a benchmark failed (its section says so, with its output).
"""
import argparse
import os
import pathlib
import platform
import re
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "RESULTS.md"
# Arguments other than a benchmark's defaults, and why.
ARGS = {
    # 20 runs of the e2e file take ~20 minutes: two keep `make bench` within reach.
    "e2e_repeat": ["--runs", "2"],
}
HEAD = "# Benchmark results\n"
SECTION = re.compile(r"^## (\S+)$", re.M)


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = int(open("/proc/meminfo").readline().split()[1]) // (1024 * 1024)
    except (OSError, ValueError, IndexError):
        mem = 0
    try:
        osname = re.search(r'PRETTY_NAME="([^"]+)"', open("/etc/os-release").read()).group(1)
    except (OSError, AttributeError):
        osname = platform.system()
    mosq = "not installed"
    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if exe:
        out = subprocess.run([exe, "-h"], capture_output=True, text=True).stdout
        m = re.search(r"mosquitto version (\S+)", out)
        mosq = m.group(1) if m else "installed"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return ("%s, %d cores, %d GB RAM; %s; Python %s; Mosquitto %s; load average %.1f when written "
            "(a shared machine: other work runs beside the benchmarks)"
            % (cpu, os.cpu_count() or 0, mem, osname, platform.python_version(), mosq, load))


def run(name):
    cmd = [sys.executable, str(BENCH / (name + ".py"))] + ARGS.get(name, [])
    shown = " ".join([".venv/bin/python", "bench/%s.py" % name] + ARGS.get(name, []))
    print("== %s" % shown, flush=True)
    t0 = time.monotonic()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = []
    p = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line.rstrip("\n"))
    p.wait()
    took = time.monotonic() - t0
    status = "exit 0" if p.returncode == 0 else "FAILED (exit %d)" % p.returncode
    body = "\n".join(line.replace("```", "'''") for line in lines)
    section = ("## %s\n\n`%s`: %s, %.0f s, %s\n\n```text\n%s\n```\n"
               % (name, shown, status, took, when, body))
    return section, p.returncode == 0


def sections(text):
    """{name: section text} of an existing RESULTS.md."""
    found = {}
    marks = list(SECTION.finditer(text))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        found[m.group(1)] = text[m.start():end].rstrip("\n") + "\n"
    return found


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="a benchmark's name (bench/NAME.py); the others' sections are kept")
    args = ap.parse_args(argv)
    names = sorted(p.stem for p in BENCH.glob("*.py"))
    unknown = set(args.only) - set(names)
    if unknown:
        ap.error("no such benchmark: %s (there are %s)" % (", ".join(sorted(unknown)), ", ".join(names)))
    kept = sections(RESULTS.read_text()) if args.only and RESULTS.exists() else {}
    failed = []
    for name in names:
        if args.only and name not in args.only:
            continue
        kept[name], ok = run(name)
        if not ok:
            failed.append(name)
    head = (HEAD + "\nWritten by `make bench` (`tools/bench_results.py`), not by hand: every section is one "
            "benchmark's whole output, with its command, exit status, run time and date. Each benchmark "
            "prints its figures beside a baseline run in the same invocation; the ratios are the figures "
            "to compare across machines.\n\nMachine (at the last write): %s.\n\n" % machine())
    RESULTS.write_text(head + "\n".join(kept[n] for n in names if n in kept))
    print("wrote %s (%d sections)%s" % (RESULTS.relative_to(ROOT), len(kept),
                                        "; FAILED: " + ", ".join(failed) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
