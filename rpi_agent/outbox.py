"""The on-disk outbox: every reading is stored here before it is published
(QoS 1) and leaves only when the broker's PUBACK for it came back.

One SQLite file in WAL mode. paho keeps nothing across a restart and drops
QoS 0 while disconnected; this file keeps readings through a broker outage,
`kill -9` and a clean reboot whatever `sync` says (a committed transaction is
in the kernel's page cache at once), and through a power cut as `sync` says:

  "ack"     a stored reading is on the disk or acknowledged by the broker
            within `window` s (0.05 by default): when the window ends, the
            WAL is fsync'd unless every reading stored since the last fsync
            has had its PUBACK (those are the broker's now). With the broker
            up, PUBACKs come in about a millisecond and nothing is fsync'd per
            reading; during an outage, one fsync per window. A power cut loses
            at most the readings of its last `window` s that the broker had
            not acknowledged, as "full" loses those of the fsync under way;
  "full"    every transaction that stores readings is fsync'd before add()
            returns: a power cut loses nothing stored;
  "window"  the WAL is fsync'd at most `window` seconds after the first
            transaction not yet on disk (the agent's loop calls sync() when
            sync_due() says): a power cut loses at most the readings stored
            in the last `window` seconds and not yet acknowledged;
  "normal"  SQLite's own NORMAL: on disk at its checkpoints (every ~1000
            pages), a power cut may lose more.

Deleting acked rows is never fsync'd on its own: a delete lost to a power cut
only sends those rows again (at least once). Rows are sent oldest first, with
the seq and timestamp they were made with; when the outbox holds more than
`max_readings`, the oldest are dropped and counted (`dropped`, kept in the
file too).

The reading counter (seq) lives in the same file: each row carries its seq,
and `meta.seq` is written by every transaction that deletes rows without
storing one (flush) or drops some, so max(meta.seq, newest row's seq + 1)
is never below a seq used before, even across a power cut with "full". A
transaction that stores a reading writes its row and nothing else (one page
of WAL, not three: no counter update, no AUTOINCREMENT bookkeeping; the row
ids are counted here, in memory, and only need to grow within one process).

Without an fsync per reading, a power cut can take back rows the broker
already has, and with them the seqs they used: numbering again from the
file would give a seq the collector already holds to another reading (a
duplicate of the same value is dropped there). So the other modes reserve
seqs ahead on the disk (`meta.seq_end`, fsync'd, SEQ_RESERVE at a time, as
the firmware does on its flash), and a file that was not closed cleanly in
an earlier boot (a power cut, a kernel crash) numbers on from the
reservation: a gap of at most SEQ_RESERVE - 1 after a power cut, never a seq
used twice. A `kill -9` or a crash of the agent alone leaves the kernel
running with everything committed: the same boot (its boot id) numbers on
from the file, with no gap.

Thread use: the agent's loop adds, takes and acks; one connection behind a
lock. Acks are batched: ack() notes the id, a later transaction that stores
readings deletes it (after ACK_BATCH acks or ACK_AGE s: no transaction of
their own while readings flow), or flush() when none comes.
"""
import collections
import os
import sqlite3
import threading
import time

SYNCS = ("ack", "full", "window", "normal")
WINDOWS = {"ack": 0.05, "window": 1.0}  # default `window` (s)
ACK_BATCH = 64    # acked rows deleted along with a stored reading once this many wait,
ACK_AGE = 1.0     # or once the oldest waited this long (s)
SEQ_RESERVE = 64  # seqs reserved on the disk at a time, without an fsync per reading
BOOT_ID = "/proc/sys/kernel/random/boot_id"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (id INTEGER PRIMARY KEY, topic TEXT NOT NULL,
                                     payload BLOB NOT NULL, created REAL NOT NULL, seq INTEGER);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('seq', 0), ('dropped', 0), ('seq_end', 0), ('clean', 1), ('boot', '');
"""


def boot_id():
    """This boot of the kernel ('' where unknown: then every start is taken for a new boot)."""
    try:
        with open(BOOT_ID) as f:
            return f.read().strip()
    except OSError:
        return ""


class Outbox:
    def __init__(self, path, max_readings=1000000, sync="ack", window=None):
        if sync not in SYNCS:
            raise ValueError("outbox sync must be one of %s, not %r" % (", ".join(SYNCS), sync))
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self.max = max_readings
        self.sync_mode = sync
        self.window = WINDOWS.get(sync, 1.0) if window is None else window
        self._unsynced = None   # monotonic time of the oldest commit not fsync'd yet ("ack", "window")
        self._exposed = set()   # "ack": ids stored since the last fsync, not acknowledged yet
        self._lock = threading.Lock()
        self._acked = []
        self._acked_at = 0.0    # monotonic time of the oldest ack not deleted yet
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # One process (the agent) uses the file: it holds its lock for good, so a transaction takes no
        # file locks and the WAL index lives in its memory, not in a shared -shm file.
        self.db.execute("PRAGMA locking_mode=EXCLUSIVE")
        self.db.execute("PRAGMA journal_mode=WAL")
        self._pragma_sync = "PRAGMA synchronous=%s" % ("FULL" if sync == "full" else "NORMAL")
        self.db.execute(self._pragma_sync)
        self.db.executescript(_SCHEMA)
        if "seq" not in [r[1] for r in self.db.execute("PRAGMA table_info(readings)")]:
            # A file of the first format (meta.seq written with every row): rows carry their seq from now on.
            self.db.execute("ALTER TABLE readings ADD COLUMN seq INTEGER")
        self._count = self.db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
        # The newest row id, kept so that a publisher with nothing new to send asks nothing.
        self.last_id = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM readings").fetchone()[0]
        self._dropped = self._meta("dropped")
        # One writer (the agent's loop): the counter is read once, then kept here
        # and written with every row; the newest rows are kept too, so the
        # publisher that sends them a moment later needs no SELECT.
        newest = self.db.execute("SELECT MAX(seq) FROM readings").fetchone()[0]
        self._seq = max(self._meta("seq"), newest + 1 if newest is not None else 0)
        boot = boot_id()
        if not self._meta("clean") and (not boot or self._meta("boot") != boot):
            self._seq = max(self._seq, self._meta("seq_end"))  # a power cut may have taken back used seqs
        self._recent = collections.deque(maxlen=256)
        # Open: not closed cleanly until close() says so; a fresh reservation, on the disk before any publish.
        self._seq_end = self._seq if sync == "full" else self._seq + SEQ_RESERVE
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany("UPDATE meta SET value=? WHERE key=?",
                            [(0, "clean"), (boot, "boot"), (self._seq_end, "seq_end")])
        self.db.execute("COMMIT")
        self._fsync()

    # -- counters --------------------------------------------------------------
    def _meta(self, key):
        return self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()[0]

    @property
    def dropped(self):
        return self._dropped

    def __len__(self):
        return self._count

    # -- producer side ---------------------------------------------------------
    @property
    def seq(self):
        """The seq the next stored reading takes (the loop that stores is the only writer)."""
        return self._seq

    def add(self, topic, payload, seq, created, protect=()):
        """Store one reading numbered `seq` (which must be self.seq)."""
        self.add_many([(seq, topic, payload)], created, protect)

    def add_many(self, items, created, protect=()):
        """Store [(seq, topic, payload text)], seqs consecutive from self.seq, in
        one transaction; drops the oldest rows beyond max_readings (never the
        ids in `protect`, those in flight: a set, or a function asked for it
        only when rows are dropped). Acked rows go in the same transaction
        once ACK_BATCH of them wait or the oldest waited ACK_AGE s; one
        reading with nothing else to do is a single INSERT (its own
        transaction: no BEGIN, no COMMIT to run)."""
        with self._lock:
            db = self.db
            acked = self._acked
            over = self._count + len(items) - self.max
            take = over > 0 or len(acked) >= ACK_BATCH or acked and time.monotonic() - self._acked_at >= ACK_AGE
            seq = self._seq
            reserve = self.sync_mode != "full" and seq + len(items) > self._seq_end
            if len(items) == 1 and not take and not reserve:
                s, topic, text = items[0]
                if s != seq:
                    raise ValueError("outbox: seq %d given, %d expected" % (s, seq))
                data = text.encode() if isinstance(text, str) else text
                row = self.last_id + 1
                db.execute("INSERT INTO readings (id, topic, payload, created, seq) VALUES (?,?,?,?,?)",
                           (row, topic, data, created, s))
                added, seq, gone, dropped = [(row, topic, data)], seq + 1, 0, 0
            else:
                db.execute("BEGIN IMMEDIATE")
                try:
                    added = []
                    for s, topic, text in items:
                        if s != seq:
                            raise ValueError("outbox: seq %d given, %d expected" % (s, seq))
                        data = text.encode() if isinstance(text, str) else text
                        row = self.last_id + len(added) + 1
                        db.execute("INSERT INTO readings (id, topic, payload, created, seq) VALUES (?,?,?,?,?)",
                                   (row, topic, data, created, s))
                        added.append((row, topic, data))
                        seq += 1
                    gone = 0
                    if take:
                        # With a row stored here, that row holds the newest seq: meta.seq need not move.
                        gone = self._delete_acked(None if items else seq)
                        self._acked = []
                    over = self._count - gone + len(items) - self.max
                    dropped = self._drop(over, protect, seq) if over > 0 else 0
                    if reserve:
                        db.execute("UPDATE meta SET value=? WHERE key='seq_end'", (seq + SEQ_RESERVE,))
                    db.execute("COMMIT")
                except BaseException:
                    self._acked = acked  # still to delete (the cache may have let them go: it is only a cache)
                    db.execute("ROLLBACK")
                    raise
            if reserve:
                # On the disk before these seqs go out: fsync'd now, the rows with it.
                self._fsync()
                self._seq_end = seq + SEQ_RESERVE
                self._unsynced = None
                self._exposed.clear()
            elif self.sync_mode in ("ack", "window"):
                if self._unsynced is None:
                    self._unsynced = time.monotonic()
                if self.sync_mode == "ack":
                    self._exposed.update(r[0] for r in added)
            self._seq = seq
            self._count += len(items) - dropped - gone
            self._dropped += dropped
            if added:
                self.last_id = added[-1][0]
            if dropped:
                self._recent.clear()  # some of them may be gone
            self._recent.extend(added)

    def _drop(self, n, protect, seq):
        if callable(protect):
            protect = protect()
        ids = [r[0] for r in self.db.execute(
            "SELECT id FROM readings ORDER BY id LIMIT ?", (n + len(protect),)) if r[0] not in protect][:n]
        self.db.executemany("DELETE FROM readings WHERE id=?", [(i,) for i in ids])
        self._exposed.difference_update(ids)  # gone: nothing of theirs to put on the disk
        self.db.execute("UPDATE meta SET value=value+? WHERE key='dropped'", (len(ids),))
        self.db.execute("UPDATE meta SET value=? WHERE key='seq'", (seq,))
        return len(ids)

    # -- publisher side --------------------------------------------------------
    def after(self, last_id, limit=100):
        """[(id, topic, payload bytes)] oldest first, ids above last_id."""
        with self._lock:
            r = self._recent
            if r and r[0][0] <= last_id + 1 and r[-1][0] > last_id:
                # ids are consecutive within one process: the rows wanted are the cache's tail
                start = len(r) - (r[-1][0] - last_id)
                if start >= 0 and r[start][0] == last_id + 1:
                    return [r[i] for i in range(start, min(len(r), start + limit))]
            return self.db.execute("SELECT id, topic, payload FROM readings WHERE id>? ORDER BY id LIMIT ?",
                                   (last_id, limit)).fetchall()

    def ack(self, row_id):
        """The broker has it (PUBACK): noted now, deleted with a later stored
        reading or at the next flush()."""
        with self._lock:
            if not self._acked:
                self._acked_at = time.monotonic()
            self._acked.append(row_id)
            exposed = self._exposed
            if exposed:
                exposed.discard(row_id)
                if not exposed:
                    self._unsynced = None  # "ack": the broker has every reading the fsync was for

    def acked(self):
        """Rows acked and not yet deleted."""
        return len(self._acked)

    def waiting(self):
        """Rows the broker has not acknowledged yet (len() counts the acked ones not deleted yet too)."""
        return self._count - len(self._acked)

    def _delete_acked(self, seq):
        """Within a transaction: delete the acked rows, and keep `seq` (the
        next one) in meta unless None (the transaction stores a row, whose
        seq says as much); returns how many rows went."""
        ids = self._acked
        if not ids:
            return 0
        if seq is not None:
            self.db.execute("UPDATE meta SET value=? WHERE key='seq'", (seq,))
        if self._recent and max(ids) >= self._recent[0][0]:
            gone = set(ids)  # the cache serves only rows still stored
            kept = [r for r in self._recent if r[0] not in gone]
            self._recent.clear()
            self._recent.extend(kept)
        cur = self.db.executemany("DELETE FROM readings WHERE id=?", [(i,) for i in ids])
        return cur.rowcount if cur.rowcount >= 0 else len(ids)

    def flush(self):
        """Delete the acked rows in a transaction of their own (not fsync'd:
        a delete lost to a power cut only sends those rows again); returns
        how many."""
        with self._lock:
            if not self._acked:
                return 0
            db = self.db
            if self.sync_mode == "full":
                db.execute("PRAGMA synchronous=NORMAL")
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    n = self._delete_acked(self._seq)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            finally:
                if self.sync_mode == "full":
                    db.execute(self._pragma_sync)
            self._acked = []
            self._count -= n
            return n

    # -- group commit ("ack", "window") ----------------------------------------------
    def sync_due(self):
        """time.monotonic() by which sync() must run; None when all is on disk (or acknowledged)."""
        return None if self._unsynced is None else self._unsynced + self.window

    def sync(self):
        """fsync the WAL, where every committed transaction is."""
        with self._lock:
            if self._unsynced is None:
                return False
            self._fsync()
            self._unsynced = None
            self._exposed.clear()
            return True

    def _fsync(self):
        if self.path == ":memory:":
            return
        try:
            fd = os.open(self.path + "-wal", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # checkpointed and removed: on disk already
            return
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)

    def size_bytes(self):
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.path.getsize(self.path + suffix)
            except OSError:
                pass
        return total

    def close(self):
        """Closed cleanly: the next start numbers on from the exact seq, with no gap."""
        self.flush()
        with self._lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            db.executemany("UPDATE meta SET value=? WHERE key=?",
                           [(self._seq, "seq"), (self._seq, "seq_end"), (1, "clean")])
            db.execute("COMMIT")
            self._fsync()
            self._unsynced = None
            db.close()
