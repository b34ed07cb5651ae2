"""The outbox: order, seq kept across reopening, only acked rows leave,
oldest first dropped and counted beyond the limit, and a writer killed
with SIGKILL loses nothing it had stored."""
import os
import signal
import subprocess
import sys
import time

from rpi_agent.outbox import Outbox
from support.agent_helpers import ROOT


def fill(ob, n, topic="u4/302/temperature"):
    items = [(ob.seq + i, topic, '{"seq": %d}' % (ob.seq + i)) for i in range(n)]
    ob.add_many(items, time.time())
    return [s for s, _, _ in items]


def test_rows_come_out_in_order_and_leave_only_when_acked(tmp_path):
    ob = Outbox(str(tmp_path / "o.sqlite"))
    assert fill(ob, 5) == [0, 1, 2, 3, 4]
    rows = ob.after(0, 3)
    assert [r[2] for r in rows] == [b'{"seq": 0}', b'{"seq": 1}', b'{"seq": 2}']
    assert [r[2] for r in ob.after(rows[-1][0], 10)] == [b'{"seq": 3}', b'{"seq": 4}']
    ob.ack(rows[1][0])
    assert len(ob) == 5  # noted, not yet deleted
    assert ob.flush() == 1 and len(ob) == 4
    assert [r[2] for r in ob.after(0, 10)] == [b'{"seq": 0}', b'{"seq": 2}', b'{"seq": 3}', b'{"seq": 4}']
    ob.close()
    ob = Outbox(str(tmp_path / "o.sqlite"))
    assert len(ob) == 4 and ob.seq == 5  # the counter goes on where it stopped
    assert ob.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    try:
        ob.add("t", "x", 3, time.time())  # a seq used already
    except ValueError as e:
        assert "seq 3 given, 5 expected" in str(e)
    else:
        raise AssertionError("a reused seq was stored")
    assert len(ob) == 4
    ob.close()


def test_a_full_outbox_drops_the_oldest_and_counts_them(tmp_path):
    ob = Outbox(str(tmp_path / "o.sqlite"), max_readings=10)
    fill(ob, 8)
    first = ob.after(0, 1)[0][0]
    ob.add_many([(ob.seq + i, "t", "r%d" % (ob.seq + i)) for i in range(5)], time.time(), protect={first})
    assert len(ob) == 10 and ob.dropped == 3
    kept = [r[2] for r in ob.after(0, 20)]
    # The in-flight first row is kept; seq 1..3 went, the newest are all there.
    assert kept[0] == b'{"seq": 0}' and kept[1] == b'{"seq": 4}' and kept[-1] == b"r12"
    ob.close()
    assert Outbox(str(tmp_path / "o.sqlite"), max_readings=10).dropped == 3


WRITER = """
import sys, time
sys.path.insert(0, %r)
from rpi_agent.outbox import Outbox
ob = Outbox(sys.argv[1])
while True:
    s = ob.seq
    ob.add("u4/302/temperature", '{"seq": %%d}' %% s, s, time.time())
    print(s, flush=True)
"""


def test_sigkill_of_a_writer_loses_no_stored_reading(tmp_path):
    path = str(tmp_path / "o.sqlite")
    p = subprocess.Popen([sys.executable, "-c", WRITER % str(ROOT), path], stdout=subprocess.PIPE, text=True)
    reported = []
    while len(reported) < 200:
        reported.append(int(p.stdout.readline()))
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    ob = Outbox(path)
    stored = [int(r[2].split()[1].rstrip(b"}")) for r in ob.after(0, 10**6)]
    # Every seq the writer said it stored is there, once, in order, and the
    # counter did not lose its place.
    assert stored[:len(reported)] == reported and stored == list(range(len(stored)))
    assert ob.seq == len(stored)
