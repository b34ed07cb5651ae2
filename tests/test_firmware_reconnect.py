"""A broker restarted 100 times in a row: the firmware on a virtual board
(sandbox mode, a real Mosquitto of its own) reconnects after each, its
MicroPython process does not pile up file descriptors (sockets it replaced
and did not close would), and its loop keeps turning (the watchdog would
reset a hung board: no reset may happen)."""
import os
import time

import pytest

from provisioning.mosquitto import Acl
from toolchain import micropython as upy
from virtual_board import DEFAULT_HEAP, VirtualBoard

pytestmark = [pytest.mark.slow, pytest.mark.micropython, pytest.mark.mosquitto]

RESTARTS = 100


def _fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_a_hundred_broker_restarts_in_a_row(mosquitto, tmp_path):
    reason = upy.unavailable_reason()
    if reason:
        from harness import need
        need(reason)
    acl = Acl()
    acl.allow("test", "readwrite", "TestTopic/#")
    broker = mosquitto(users={"test": "test"}, acl=acl, tls=False)
    board = VirtualBoard("aa:bb:cc:00:0b:0b", wifi=("campus", "secret"), sandbox=True, heap=DEFAULT_HEAP,
                         broker=(broker.host, broker.port), chips=["mcp9808@0x18:temperature=20..25/30s"],
                         flash_dir=tmp_path / "flash", echo=False)
    board.start()
    try:
        i, _ = board.wait_for(r"^mqtt: connected", 90)
        boots = len(board.boots)
        pid = board._proc.pid
        counts = []
        t0 = time.monotonic()
        for n in range(RESTARTS):
            broker.proc.kill()
            broker.proc.wait()
            broker.start()
            # The next connection after this restart (not an earlier one).
            i, _ = board.wait_for(r"^mqtt: connected", 30, i + 1)
            counts.append(_fds(pid))
        took = time.monotonic() - t0
        assert len(board.boots) == boots and board._proc.pid == pid, (
            "the board was reset during the restarts: %s" % board.boots)
        lost = [x for x in board.lines if x.startswith("mqtt: link lost")]
        assert len(lost) >= RESTARTS, "the board did not see every restart"
        # After the first few cycles the count is steady: a leak grows it by one a cycle.
        assert max(counts[10:]) <= max(counts[:10]), counts
        assert not [x for x in board.lines if "MemoryError" in x or "Traceback" in x]
        print("%d restarts in %.0f s, fds %s..%s" % (RESTARTS, took, min(counts), max(counts)))
    finally:
        board.stop()
