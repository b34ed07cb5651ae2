"""bench/flash.py --quick runs and prints every figure: time and bytes of
each case for both deploys, beside its mpremote baseline, and the goal lines.
Only the figures' presence is checked; the goals are the bench's business."""
import os
import re
import subprocess
import sys

import pytest

from harness import ROOT, need
from toolchain import micropython as upy

pytestmark = [pytest.mark.slow, pytest.mark.micropython]


def test_flash_bench_quick_prints_every_figure():
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "flash.py"), "--quick"], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    print(proc.stdout, proc.stderr[-3000:])
    assert proc.returncode == 0, "bench/flash.py --quick exited %d" % proc.returncode
    rows = re.findall(r"^(mpy|romfs)\s+(full|unchanged|one file)\s+\d+\.\d{3}\s+\d+\s+mpremote (?:fs cp -r|romfs "
                      r"deploy)\s+\d+\.\d{3}\s+\d+\s+\d+\.\d\dx\s+\d+\.\d\dx$", proc.stdout, re.M)
    assert sorted(rows) == sorted((m, c) for m in ("mpy", "romfs") for c in ("full", "unchanged", "one file"))
    assert len(re.findall(r"^goal ours <= .*: \d+\.\d\dx (MET|NOT MET)$", proc.stdout, re.M)) == 4
    assert "NOT MEASURED" not in proc.stdout
