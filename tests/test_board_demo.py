"""`neoc demo --duration`: the closed loop runs and stops by itself."""
import re
import subprocess
import sys

import pytest

from harness import ROOT, need
from neoc import micropython as upy


@pytest.mark.slow
def test_demo_prints_readings_of_the_three_modules_and_stops_by_itself():
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    proc = subprocess.run([sys.executable, "-m", "neoc", "demo", "--duration", "12"], cwd=ROOT,
                          capture_output=True, text=True, timeout=90)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert re.search(r"live page: http://127\.0\.0\.1:\d+/", out)
    for module, unit in (("temperature", "celsius"), ("humidity", "%r.H."), ("luminosity", "lux")):
        assert re.search(r"%s\s+auto_0001 subID \d+\s+[\d.]+ %s" % (module, re.escape(unit)), out), out
    assert out.rstrip().endswith("demo stopped")
