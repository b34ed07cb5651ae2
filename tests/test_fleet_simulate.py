"""`neoc fleet simulate` as a user runs it (input closed, output to a pipe): 300 light
devices in a boot storm and a 20 s outage of the broker the collector reads, on one
Mosquitto and on building Mosquittos bridged to a core. Both run at once (each is
light: one asyncio process, ~300 readings/s): the test's time is one run's."""
import json
import subprocess
import sys

import pytest

from harness import ROOT, need
from provisioning import mosquitto as mq
from support import proctree

pytestmark = pytest.mark.slow

RUN = ["--light-devices", "300", "--boot-storm", "--broker-outage", "20", "--outage-at", "6", "--duration", "34",
       "--json"]


def test_boot_storm_and_outage_lose_nothing_flat_and_bridged():
    if mq.find("mosquitto") is None:
        need("Mosquitto is not installed: `sudo apt-get install mosquitto`")
    runs = {}
    for topology in ("flat", "bridged"):
        env, mark = proctree.marked_env()
        p = subprocess.Popen([sys.executable, "-m", "neoc", "fleet", "simulate", *RUN, "--topology", topology],
                             cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
        runs[topology] = (p, mark)
    try:
        for topology, (p, mark) in runs.items():
            out, err = p.communicate(timeout=240)
            assert p.returncode == 0, "%s: exit %d\n%s\n%s" % (topology, p.returncode, out, err)
            r = json.loads(out)
            assert r["topology"] == topology and r["handshakes"] == 300, r
            assert r["readings_expected"] > 300 * 25 and r["readings_stored"] == r["readings_expected"], r
            assert r["lost"] == 0 and r["missing_from_seq"] == 0, r
            # The outage happened: during it the flat campus's devices lost their broker and
            # queued; the bridged campus's buildings queued for the core.
            assert "broker the collector reads is down" in err and "is up" in err, err
            if topology == "flat":
                assert r["reconnects"] >= 300, r
            assert r["collector_lag_p99_s"] > 15, r  # readings of the outage reached the store late, not never
            left = proctree.alive(mark)
            assert left == [], "%s left processes behind: %s" % (topology, left)
    finally:
        for p, mark in runs.values():
            if p.poll() is None:
                p.kill()
            proctree.kill(mark)
