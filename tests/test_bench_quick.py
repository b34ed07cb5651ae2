"""Every benchmark in bench/ runs in --quick mode and prints its figures.

A bench exits non-zero when a figure it should print could not be measured,
so a change that breaks one (a driver attribute it reads, a console line it
parses) fails here instead of printing a hole. Only the figures' presence is
checked, never their values: speed and size goals are the benches' own
business (bench/, `make bench`).
"""
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

from harness import need
from toolchain import micropython as upy
from provisioning import mosquitto as mq

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable


def _need_micropython():
    reason = upy.unavailable_reason()
    if reason:
        need(reason)


def _need_mosquitto():
    if mq.find("mosquitto") is None or mq.find("mosquitto_passwd") is None:
        need("Mosquitto is not installed: `sudo apt-get install mosquitto` (make test does it as root)")


def run_bench(name, *args, timeout=180):
    proc = subprocess.run([PYTHON, str(BENCH / name), *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    # What pytest shows when an assertion below fails.
    print("--- stdout\n%s\n--- stderr (tail)\n%s" % (proc.stdout, proc.stderr[-3000:]))
    return proc


def bench_module(name):
    spec = importlib.util.spec_from_file_location("bench_" + name[:-3], BENCH / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def lines_matching(text, pattern):
    return [m for m in map(re.compile(pattern).search, text.splitlines()) if m]


def test_i2c_traffic_quick_prints_traffic_and_micropython_ram_per_chip():
    _need_micropython()
    chips = [c[0] for c in bench_module("i2c_traffic.py").CHIPS]
    proc = run_bench("i2c_traffic.py", "--quick")
    assert proc.returncode == 0, "bench/i2c_traffic.py --quick exited %d" % proc.returncode
    out = proc.stdout
    for chip in chips:
        # Transactions and bytes per read on SimBus, then import RAM and
        # allocation per read under MicroPython: two rows of numbers per chip.
        assert lines_matching(out, r"^%s\s+\d+\.\d\s+\d+\.\d\b" % re.escape(chip)), chip
        assert lines_matching(out, r"^%s\s+\d+\s+\d+$" % re.escape(chip)), chip
    assert lines_matching(out, r"drivers\.bus .*import RAM: \d+ bytes$")
    assert len(lines_matching(out, r"^goal ours <= .*: (MET|NOT MET)$")) == 3


def test_portable_heap_quick_prints_a_minimum_per_module():
    _need_micropython()
    quick = bench_module("portable_heap.py").QUICK
    proc = run_bench("portable_heap.py", "--quick")
    assert proc.returncode == 0, "bench/portable_heap.py --quick exited %d" % proc.returncode
    for name in quick:
        assert lines_matching(proc.stdout, r"^%s\s+[+.]+\s+min \d+k \(runs at \w+\)$" % re.escape(name)), name


def test_portable_heap_without_a_figure_exits_1_and_says_why():
    # No portable module runs in 8-9 KB: the figure cannot be found in the range.
    _need_micropython()
    proc = run_bench("portable_heap.py", "--lo", "8", "--hi", "9", "tests/portable/test_ids.py")
    assert proc.returncode == 1
    assert lines_matching(proc.stdout, r"^test_ids\.py\s+\.\.\s+min > 9k")
    assert lines_matching(proc.stdout, r"^  test_ids\.py: fails at 9 KB: .*MemoryError")


def test_registry_quick_prints_storm_and_ingest_figures():
    _need_mosquitto()
    proc = run_bench("registry.py", "--quick")
    assert proc.returncode == 0, "bench/registry.py --quick exited %d" % proc.returncode
    out = proc.stdout
    assert lines_matching(out, r"^boot storm N=50 \(embedded broker\): \d+/50 handshakes in [\d.]+ s = \d+ "
                               r"handshakes/s; latency p50 \d+ ms")
    assert lines_matching(out, r"^  CPU during the storm: server [\d.]+ s")
    for qos in (0, 1):
        assert lines_matching(out, r"^ingest QoS %d via Mosquitto, 500 messages .* bare subscriber \d+ received"
                                   r".* collector \d+ stored, \d+ msg/s; collector/bare = [\d.]+$" % qos), qos


@pytest.mark.slow
def test_firmware_quick_prints_heap_size_and_boot_figures():
    _need_micropython()
    _need_mosquitto()
    proc = run_bench("firmware.py", "--quick", timeout=420)
    assert proc.returncode == 0, "bench/firmware.py --quick exited %d" % proc.returncode
    out = proc.stdout
    # Baseline, full (.mpy) and full (ROMFS) columns.
    assert lines_matching(out, r"^  smallest heap that completes\s+\d+ KB\s+\d+ KB\s+\S+\s+\d+ KB\s")
    assert lines_matching(out, r"^  peak live heap \(after gc.collect\)\s+[\d.]+ KB\s+[\d.]+ KB\s+\S+\s+[\d.]+ KB")
    assert lines_matching(out, r"^  heap used at set-up's end \(no collect\)\s+n/a\s+[\d.]+ KB\s+-\s+[\d.]+ KB")
    assert lines_matching(out, r"^  boot -> first publish received\s+[\d.]+ s\s+[\d.]+ s\s+\S+\s+[\d.]+ s")
    assert len(lines_matching(out, r"^  \.mpy size, xtensa(win)?\s+[\d.]+ KB\s+[\d.]+ KB")) == 2
    assert lines_matching(out, r"^Boot timeline, full \(\.mpy\) at \d+ KB .*: wifi [\d.]+, handshake [\d.]+, "
                               r"i2c scan [\d.]+, mqtt [\d.]+, first reading received [\d.]+$")
    assert lines_matching(out, r"^  sum of the modules this board loads: [\d.]+ KB")
    assert len(lines_matching(out, r"^\s*(TARGET|BUDGET|same, code in ROMFS).*?:\s+(PASS|MISS) \(")) == 4
    # Issue 13: the soak, the drain beside live publishes, the queue's density, each feature's cost.
    assert lines_matching(out, r"^SOAK   \d+ cycles at \d+k: free heap first \d+ B, lowest \d+ B, last \d+ B.*: "
                               r"(no growth \(PASS\)|GROWTH of \d+ B \(MISS\))$")
    assert lines_matching(out, r"^DRAIN  100 queued readings .*: [\d.]+ s .* same run: [\d.]+ s .*ratio [\d.]+$")
    assert lines_matching(out, r"^QUEUE  .*: \d+\.\d\d readings kept per KB of queue file$")
    for feature in ("outbox", "portal", "OTA \\+ stage", "safe mode"):
        assert lines_matching(out, r"^  %s\s.*\s\d+ B\s+\d+ B$" % feature), feature
    assert lines_matching(out, r"^LOOP   with every feature on .*: smallest free heap [\d.]+ KB .*(PASS|MISS)\)$")


def test_outbox_quick_prints_capacity_heap_and_drain_figures():
    _need_micropython()
    _need_mosquitto()
    proc = run_bench("outbox.py", "--quick")
    assert proc.returncode == 0, "bench/outbox.py --quick exited %d" % proc.returncode
    out = proc.stdout
    assert lines_matching(out, r"^record \d+ B: \d+\.\d\d readings per KB of queue file")
    assert lines_matching(out, r"^heap: module \d+ B, at rest once open .* \d+ B$")
    assert lines_matching(out, r"^garbage left by one put\(\) \d+ B, by one peek\(\) \d+ B")
    assert lines_matching(out, r"^drain of 200 queued readings after the connection: [\d.]+ s .*ratio [\d.]+$")


@pytest.mark.slow
def test_fleet_quick_prints_storm_and_fleet_figures():
    _need_mosquitto()
    # The ingest section is bench/registry.py's own, checked above.
    proc = run_bench("fleet.py", "--quick", "--devices", "60", "--sizes", "40", "--step-seconds", "5",
                     "--skip", "ingest", "--http-processes", "2")
    assert proc.returncode == 0, "bench/fleet.py --quick exited %d" % proc.returncode
    out = proc.stdout
    # One process, and as many as the cores (--http-processes), beside the floor.
    for label in ("bare aiohttp, canned answers \\(the floor\\):", "stub \\(1 process\\), all at the same instant:",
                  "stub \\(1 process\\), power-on over 2.0 s:", "stub \\(2 processes\\), all at the same instant:",
                  "stub \\(2 processes\\), power-on over 2.0 s:"):
        assert lines_matching(out, r"^  %s\s+\d+/60 in\s+[\d.]+ s =\s+\d+ handshakes/s; p50\s+\d+ ms, p99\s+\d+ ms; "
                                   r"errors 0; CPU per handshake: devices [\d.]+ ms, server [\d.]+ ms$" % label), label
    for procs in (1, 2):
        assert lines_matching(out, r"^  --http-processes %d: stub/floor = [\d.]+; against 2026-12-01 \(543/s, "
                                   r"p99 3.35 s\): [\d.]+x the rate$" % procs)
    assert lines_matching(out, r"^  goal, with --http-processes 2: >= 1000 handshakes/s: (met|NOT met)")
    assert lines_matching(out, r"^\s+40 devices \(\s+40 readings/s\): HELD; handshakes 40/40; .* lost 0, .*"
                               r"collector lag p50 \d+ ms p99 \d+ ms; bare subscriber \d+ received")
    assert lines_matching(out, r"^  largest fleet held: 40 devices")
