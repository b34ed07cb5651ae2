"""`neoc demo`: the closed loop prints readings of its three modules, stops on
Ctrl-C and, with --duration, by itself."""
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from harness import ROOT, need
from toolchain import micropython as upy

MODULES = (("temperature", "celsius"), ("humidity", "%r.H."), ("luminosity", "lux"))
# A bound, not a window: the test goes on as soon as every module's line is
# there (a few seconds on a quiet machine; boot times vary on a loaded one).
READINGS_WITHIN = 120


def _reading_re(module, unit):
    return re.compile(r"%s\s+auto_0001 subID \d+\s+[\d.]+ %s" % (module, re.escape(unit)))


def _need_vm():
    if upy.unavailable_reason():
        need(upy.unavailable_reason())


@pytest.mark.slow
def test_demo_prints_readings_of_the_three_modules_and_stops_on_ctrl_c():
    _need_vm()
    proc = subprocess.Popen([sys.executable, "-m", "neoc", "demo", "--duration", str(READINGS_WITHIN + 60)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines, cond = [], threading.Condition()

    def pump():
        for line in proc.stdout:
            with cond:
                lines.append(line)
                cond.notify_all()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    wanted = [_reading_re(m, u) for m, u in MODULES]
    deadline = time.monotonic() + READINGS_WITHIN
    try:
        with cond:
            while not all(any(rx.search(x) for x in lines) for rx in wanted):
                left = deadline - time.monotonic()
                assert left > 0 and proc.poll() is None, "".join(lines)
                cond.wait(min(left, 0.5))
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(5)
    out = "".join(lines)
    assert proc.returncode == 0, out + proc.stderr.read()
    assert re.search(r"live page: http://127\.0\.0\.1:\d+/", out)
    for rx in wanted:
        assert rx.search(out), out
    assert "stopping" in out and out.rstrip().endswith("demo stopped"), out


@pytest.mark.slow
def test_demo_stops_by_itself_after_its_duration():
    _need_vm()
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "neoc", "demo", "--duration", "2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=90)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert re.search(r"live page: http://127\.0\.0\.1:\d+/", out)
    assert "virtual board booting" in out
    assert "stopping" not in out and out.rstrip().endswith("demo stopped"), out
    assert time.monotonic() - t0 < 60
