"""Outages lose nothing: the firmware on a virtual board against `neoc server`
with Mosquitto, a digital input toggled every 2 s (one reading per change),
through a broker outage, a Wi-Fi outage, and a power cut in the middle of an
outage. After each, the collector holds every `seq` from the first reading
to the last the board took, each once.

The outages last OUTAGE seconds: the issue's 60 (NEOC_OUTAGE_S shortens
them for a quick local run). After 60 s the board's reconnection backoff
has reached its 60 s cap, jittered up to 90 s: RECONNECT allows for it.
A broker outage is Mosquitto stopped with
SIGSTOP: the board's CONNECT and PUBACK waits time out as with a broker that
hangs (the stub's watchdog would restart a killed one at once).
"""
import os
import re
import signal
import threading
import time

import pytest

from harness import chained_step, needs_step, wait_until
from provisioning.stub_process import StubServer
from toolchain import micropython as upy
from virtual_board import DEFAULT_HEAP, VirtualBoard

pytestmark = [pytest.mark.slow, pytest.mark.micropython, pytest.mark.mosquitto]

MAC = "aa:bb:cc:00:0a:ce"
ROOM = "u3/outage"
UNIT = "auto_0ace"
OUTAGE = float(os.environ.get("NEOC_OUTAGE_S", "60"))
# The longest wait for the next try (60 s cap x 1.5 jitter) plus that try's socket waits.
RECONNECT = 100
PIN = 13
PUB = re.compile(r'^pub %s/digital .*"seq": (\d+)' % ROOM)


def _mosquitto_pids(data_dir):
    """Pids of the Mosquitto the stub runs for data_dir (its config lives there)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"mosquitto") and any(str(data_dir).encode() in c for c in cmd):
            pids.append(int(pid))
    return pids


class Toggler:
    """Flips the board's input every 2 s: a reading per change."""

    def __init__(self, board):
        self.board, self.level = board, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.wait(2.0):
            self.level ^= 1
            self.board.set_pin(PIN, self.level)


class Outage:
    def __init__(self, stub, board, data_dir):
        self.stub, self.board, self.data_dir = stub, board, data_dir
        self.passed = set()

    def taken(self):
        """The seqs of the readings the board took (its console's pub lines)."""
        return [int(m.group(1)) for m in map(PUB.search, list(self.board.lines)) if m]

    def stored(self):
        rows = self.stub.admin.readings(topic=ROOM, limit=100000)
        return [r["seq"] for r in rows if r["module"] == "digital" and r["unitID"] == UNIT]

    def check_all_stored(self, timeout=90):
        """Every seq from the first taken to the last, stored once."""
        want = self.taken()
        assert want, "the board took no reading"
        top = max(want)
        got = wait_until(lambda: (lambda s: s if s and max(s) >= top and
                                  set(range(min(want), top + 1)) <= set(s) else None)(self.stored()),
                         timeout, "every reading up to seq %d stored" % top)
        missing = sorted(set(range(min(want), top + 1)) - set(got))
        dups = sorted({s for s in got if got.count(s) > 1})
        assert not missing and not dups, ("missing %s, stored twice %s" % (missing, dups))
        return got

    def queued_during(self, start):
        return [line for line in self.board.lines[start:] if PUB.search(line) and line.endswith("(queued)")]


@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    reason = upy.unavailable_reason()
    if reason:
        from harness import need
        need(reason)
    data = tmp_path_factory.mktemp("stub-outage")
    stub = StubServer(data, broker="mosquitto")
    stub.start()
    try:
        stub.admin.add_device(MAC, location=ROOM, modules=[
            {"module": "digital", "params": [{"param": "input", "value": PIN},
                                             {"param": "type", "value": "presence"}]}])
        board = VirtualBoard(MAC, server=stub.url, wifi=("campus", "secret"), heap=DEFAULT_HEAP,
                             broker=(stub.mqtt_host, stub.mqtt_port),
                             flash_dir=tmp_path_factory.mktemp("flash-outage"), echo=False)
        board.start()
        toggler = Toggler(board)
        try:
            board.wait_for(r"^mqtt: connected", 90)
            toggler.thread.start()
            yield Outage(stub, board, data)
        finally:
            toggler.stop.set()
            board.stop()
    finally:
        stub.stop()


@pytest.fixture
def run(request, outage):
    def console():
        n = len(outage.board.lines)
        return lambda: ("--- board console during the test\n" + "\n".join(outage.board.lines[n:][-150:]) +
                        "\n--- stub output\n" + outage.stub.output()[-3000:])
    yield from chained_step(request, outage, console)


def _need(run, name):
    needs_step(run, name)


def test_readings_flow_before_any_outage(run):
    wait_until(lambda: len(run.stored()) >= 3, 30, "three readings stored")
    run.check_all_stored()


def test_a_broker_outage_loses_nothing(run):
    _need(run, "test_readings_flow_before_any_outage")
    pids = _mosquitto_pids(run.data_dir)
    assert pids, "the stub's Mosquitto was not found"
    start = len(run.board.lines)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(OUTAGE)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    # A hung broker holds the loop in its socket waits (4 s each), so fewer
    # readings are taken than in a Wi-Fi outage: some, and all kept.
    assert len(run.queued_during(start)) >= 2, "readings were not kept while the broker was away"
    run.board.wait_for(r"^mqtt: connected", RECONNECT, start)
    run.check_all_stored()


def test_a_wifi_outage_loses_nothing_and_publishes_no_status_per_attempt(run):
    _need(run, "test_a_broker_outage_loses_nothing")
    start = len(run.board.lines)
    run.board.set_wifi("down")
    time.sleep(OUTAGE)
    during = run.board.lines[start:]
    run.board.set_wifi("ok")
    assert len(run.queued_during(start)) >= 3, "readings were not kept while Wi-Fi was down"
    # The radio down, no MQTT connection can succeed, so no status goes out either.
    assert not [x for x in during if x.startswith("mqtt: connected")], during[-20:]
    assert not [x for x in during if x.startswith("pub %s/device" % ROOM) and "(queued)" not in x]
    run.board.wait_for(r"^mqtt: connected", RECONNECT, start)
    run.check_all_stored()


def test_a_power_cut_during_an_outage_loses_nothing(run):
    _need(run, "test_a_wifi_outage_loses_nothing_and_publishes_no_status_per_attempt")
    pids = _mosquitto_pids(run.data_dir)
    start = len(run.board.lines)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + OUTAGE
        wait_until(lambda: len(run.queued_during(start)) >= 3, OUTAGE, "three readings queued")
        before = run.taken()
        run.board.power_cycle()
        run.board.wait_for(r"^--- boot \d+ \(power\)", 20, start)
        time.sleep(max(0.0, deadline - time.monotonic()))
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    run.board.wait_for(r"^mqtt: connected", RECONNECT, start)
    got = run.check_all_stored()
    assert set(before) <= set(got)
    # The seq goes on from the outbox's newest record: no block of numbers skipped.
    after = [s for s in run.taken() if s > max(before)]
    assert after and min(after) <= max(before) + 2, (max(before), after[:3])
