"""The outbox: order, seq kept across reopening, only acked rows leave,
oldest first dropped and counted beyond the limit, and a writer killed
with SIGKILL loses nothing it had stored."""
import os
import shutil
import signal
import subprocess
import sys
import time

from rpi_agent import outbox as outbox_mod
from rpi_agent.outbox import SEQ_RESERVE, Outbox
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


def test_acked_rows_leave_with_a_later_stored_reading_and_the_seq_outlives_them(tmp_path, monkeypatch):
    from rpi_agent import outbox
    path = str(tmp_path / "o.sqlite")
    ob = Outbox(path)
    stored = lambda: ob.db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]  # noqa: E731
    fill(ob, 3)
    for row_id, _, _ in ob.after(0, 3):
        ob.ack(row_id)
    fill(ob, 1)  # fresh acks: the new reading is a lone INSERT, the acked rows wait
    assert stored() == 4 and ob.acked() == 3
    monkeypatch.setattr(outbox, "ACK_AGE", 0.0)
    fill(ob, 1)  # they waited long enough: deleted in this reading's transaction
    assert stored() == 2 and ob.acked() == 0 and len(ob) == 2
    for row_id, _, _ in ob.after(0, 2):
        ob.ack(row_id)
    assert ob.flush() == 2 and len(ob) == 0 and stored() == 0
    ob.close()
    ob = Outbox(path)  # every row is gone: the counter still remembers where it was
    assert len(ob) == 0 and ob.seq == 5
    assert fill(ob, 2) == [5, 6] and [r[2] for r in ob.after(0, 10)] == [b'{"seq": 5}', b'{"seq": 6}']
    ob.close()


def test_a_file_of_the_first_format_keeps_its_rows_and_its_seq(tmp_path):
    import sqlite3
    path = str(tmp_path / "o.sqlite")
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE readings (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,
                               payload BLOB NOT NULL, created REAL NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT INTO meta VALUES ('seq', 42), ('dropped', 7);
        INSERT INTO readings (topic, payload, created) VALUES ('t', CAST('{"seq": 40}' AS BLOB), 0),
                                                              ('t', CAST('{"seq": 41}' AS BLOB), 0);
    """)
    db.commit()
    db.close()
    ob = Outbox(path)
    assert len(ob) == 2 and ob.seq == 42 and ob.dropped == 7
    assert fill(ob, 1) == [42]
    assert [r[2] for r in ob.after(0, 10)] == [b'{"seq": 40}', b'{"seq": 41}', b'{"seq": 42}']
    ob.close()
    assert Outbox(path).seq == 43


def test_window_sync_says_when_the_wal_is_due_and_syncs_it(tmp_path):
    ob = Outbox(str(tmp_path / "o.sqlite"), sync="window", window=0.5)
    assert ob.sync_due() is None
    t0 = time.monotonic()
    fill(ob, 2)
    due = ob.sync_due()
    assert due is not None and t0 + 0.5 <= due <= time.monotonic() + 0.5
    fill(ob, 1)
    assert ob.sync_due() == due  # the window runs from the oldest commit not on disk yet
    assert ob.sync() is True and ob.sync_due() is None and ob.sync() is False
    full = Outbox(str(tmp_path / "f.sqlite"), sync="full")  # every commit is on disk already
    fill(full, 1)
    assert full.sync_due() is None
    for o in (ob, full):
        o.close()


def test_readings_that_cannot_be_stored_are_said_and_the_next_ones_are_stored(tmp_path, monkeypatch):
    """A full SD card: that turn's readings are lost (logged, counted in the status's
    `lost`), the numbering
    goes on from what is stored, the loop's next readings are stored."""
    import sqlite3
    from rpi_agent import agent as agent_mod, config
    from support.agent_helpers import agent_doc
    a = agent_mod.Agent(config.parse(agent_doc("http://127.0.0.1:9", "02:00:00:00:00:aa", tmp_path)))
    a.outbox = Outbox(str(tmp_path / "o.sqlite"))
    a.seq = agent_mod.Seq(a.outbox.seq)
    a.transport = type("T", (), {"inflight": staticmethod(set)})()

    def take(n):
        return [(a.seq.take(), "u4/302/temperature", "r") for _ in range(n)]

    assert a._store(take(2), 0)
    real = a.outbox.add_many

    def full(*args, **kw):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(a.outbox, "add_many", full)
    assert not a._store(take(3), 1) and a.lost == 3
    monkeypatch.setattr(a.outbox, "add_many", real)
    assert a._store(take(1), 2)  # seq 2: the three lost ones never left the Pi
    assert [r[0] for r in a.outbox.db.execute("SELECT seq FROM readings ORDER BY id")] == [0, 1, 2]
    a.outbox.close()


def _one_by_one(ob, n, acked=True):
    """n readings stored one per transaction, as the loop does; acked as PUBACKs would."""
    seqs = []
    for _ in range(n):
        seqs += fill(ob, 1)
        if acked:
            ob.ack(ob.last_id)
    return seqs


def test_ack_sync_fsyncs_only_what_the_broker_has_not_acknowledged(tmp_path, monkeypatch):
    synced = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd)))
    ob = Outbox(str(tmp_path / "o.sqlite"))  # "ack", the default, 0.05 s
    assert ob.sync_mode == "ack" and ob.window == 0.05
    opened = len(synced)  # the seq reservation of the start, on the disk
    t0 = time.monotonic()
    fill(ob, 1)
    due = ob.sync_due()
    assert due is not None and t0 + 0.05 <= due <= time.monotonic() + 0.05
    ob.ack(ob.last_id)  # the PUBACK came within the window: the broker has it, nothing to fsync
    assert ob.sync_due() is None and ob.sync() is False
    _one_by_one(ob, 10)
    assert len(synced) == opened, "an fsync for readings the broker had acknowledged"
    fill(ob, 2)
    ob.ack(ob.last_id)  # one of the two still waits for its PUBACK: the fsync stays due
    assert ob.sync_due() is not None
    assert ob.sync() is True and len(synced) == opened + 1 and ob.sync_due() is None
    ob.close()


def _disk(ob, snapshots):
    """What a power cut leaves: the files as they were at their last fsync (copied at each)."""
    real = os.fdatasync

    def fdatasync(fd):
        real(fd)
        shot = snapshots / str(len(list(snapshots.iterdir())))
        shot.mkdir()
        for suffix in ("", "-wal"):
            if os.path.exists(ob + suffix):
                shutil.copy(ob + suffix, shot / ("o.sqlite" + suffix))
    return fdatasync


def test_a_power_cut_never_gives_a_used_seq_to_another_reading(tmp_path, monkeypatch):
    """Readings the broker acknowledged are not fsync'd: a power cut takes them back
    from the file, not their seqs, which the collector holds (a reading of the
    same value on a seq it has is dropped there as a duplicate)."""
    path, shots = str(tmp_path / "o.sqlite"), tmp_path / "shots"
    shots.mkdir()
    boot = tmp_path / "boot_id"
    boot.write_text("boot-1\n")
    monkeypatch.setattr(outbox_mod, "BOOT_ID", str(boot))
    monkeypatch.setattr(os, "fdatasync", _disk(path, shots))
    ob = Outbox(path)
    used = _one_by_one(ob, SEQ_RESERVE + 10)
    ob.flush()  # their deletes: not fsync'd either
    # The power goes: the disk holds what the last fsync left, the next boot has another id.
    last = shots / str(len(list(shots.iterdir())) - 1)
    cut = tmp_path / "after-cut"
    shutil.copytree(last, cut)
    boot.write_text("boot-2\n")
    again = Outbox(str(cut / "o.sqlite"))
    assert again.seq > max(used), "seq %d used again after a power cut (%d were used)" % (again.seq, max(used))
    assert again.seq - max(used) - 1 < SEQ_RESERVE  # the gap: at most what was reserved
    again.close()


def test_kill_9_and_a_clean_restart_number_on_with_no_gap(tmp_path, monkeypatch):
    boot = tmp_path / "boot_id"
    boot.write_text("boot-1\n")
    monkeypatch.setattr(outbox_mod, "BOOT_ID", str(boot))
    path = str(tmp_path / "o.sqlite")
    ob = Outbox(path)
    used = _one_by_one(ob, 10)
    # kill -9: the process goes, the kernel (and what was committed) stays; the same boot.
    live = tmp_path / "live"
    live.mkdir()
    for suffix in ("", "-wal"):
        shutil.copy(path + suffix, live / ("o.sqlite" + suffix))
    killed = Outbox(str(live / "o.sqlite"))
    assert killed.seq == max(used) + 1
    killed.close()
    ob.close()  # a clean stop, then a reboot: no gap either
    boot.write_text("boot-2\n")
    rebooted = Outbox(path)
    assert rebooted.seq == max(used) + 1
    rebooted.close()
