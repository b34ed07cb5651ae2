# Every reading on its way to the broker, kept on the flash until the broker
# acknowledged it (QoS 1 PUBACK): through Wi-Fi and broker outages and resets.
# One file, a ring of fixed-size records, kept open; the RAM it takes is one
# record's buffer. A record: a Fletcher-16 checksum of the rest of it, id and
# seq (uint32), data length (uint16), then the data: the topic, a newline and
# the payload. (Fletcher by hand, not binascii.crc32: where binascii is not
# built in, as in the 32-bit port the budget is measured in, importing it
# costs 7 KB of heap.)
# Ids grow by one per record and record `id` sits in slot (id - 1) % size,
# so the newest record is found by reading the file once at boot; each
# record is flushed as it is written (on LittleFS a flush commits the file),
# and a reset in the middle of a write leaves that one record failing its
# checksum, never another. Which ids the broker acknowledged is saved every
# _SAVE_EVERY acknowledgements, not at each (that would be two more flash
# writes per reading): after a reset up to that many are sent again, and the
# collector keeps one of each (unitID, subID, seq). Full, the oldest record
# goes first, counted in `dropped`. Nothing here allocates per record but the
# two views peek() hands out.
import struct
from micropython import const
from neosensor import store

RECORD = const(192)        # bytes per record (setup.py sizes the ring with it)
_HEAD = const(12)
_SAVE_EVERY = const(32)
FILE = "outbox.bin"
ACKED = "outbox.json"

size = 0       # records the ring holds
last = 0       # id of the newest record written; ids start at 1
acked = 0      # every id up to this one is acknowledged
seq = -1       # seq of the newest record, -1: none on the flash
dropped = 0    # readings lost: overwritten when full, too long, unreadable or unwritable
parts = [None]  # peek()'s payload, as publish_parts() takes it
_unsaved = 0   # acknowledgements not yet in ACKED
_f = None
_buf = None
_mv = None


def _u32(at):
    b = _buf
    return b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24


def _sum(n):
    # Fletcher-16 of the header after the sum and the n bytes of data.
    b = _buf
    a = c = 0
    for i in range(2, _HEAD + n):
        a = (a + b[i]) % 255
        c = (c + a) % 255
    return c << 8 | a


def _length():
    return _buf[10] | _buf[11] << 8


def _good():
    n = _length()
    return n <= RECORD - _HEAD and _sum(n) == _buf[0] | _buf[1] << 8


def open_ring(records):
    """Open the ring file (created if missing) and find its newest record."""
    global size, last, acked, seq, _f, _buf, _mv
    size = records
    _buf = bytearray(RECORD)
    _mv = memoryview(_buf)
    try:
        _f = open(FILE, "r+b")
    except OSError:
        _f = open(FILE, "w+b")
    # The largest id of a record that checks. Ids only are read first (no
    # allocation per record); a torn newest record fails its checksum and the
    # search goes on below it.
    below = 1 << 30
    while True:
        best = 0
        at = 0
        _f.seek(0)
        slot = 0
        while _f.readinto(_buf) == RECORD:
            n = _u32(2)
            if best < n < below:
                best, at = n, slot
            slot += 1
        if not best:
            break
        _f.seek(at * RECORD)
        _f.readinto(_buf)
        if _good():
            last, seq = best, _u32(6)
            break
        below = best
    acked = store.load(ACKED, 0)
    if not isinstance(acked, int) or acked > last:
        acked = 0  # its file lost or left from an earlier ring: resend, the collector keeps one
    if acked < last - size:
        acked = last - size


def queued():
    return last - acked


def put(topic, payload, reading_seq):
    """Append a reading (payload as str parts); False when it could not be kept."""
    global last, acked, seq, dropped
    b = _buf
    t = topic.encode()
    at = _HEAD + len(t) + 1
    b[_HEAD:at - 1] = t
    b[at - 1] = 10
    for p in payload:
        p = p.encode()
        end = at + len(p)
        if end > RECORD:
            dropped += 1
            print("outbox: reading too long for a record: dropped")
            return False
        b[at:end] = p
        at = end
    n = last + 1
    struct.pack_into("<IIH", b, 2, n, reading_seq, at - _HEAD)
    struct.pack_into("<H", b, 0, _sum(at - _HEAD))
    try:
        _f.seek(((n - 1) % size) * RECORD)
        _f.write(b)
        _f.flush()
    except OSError as e:  # a full or failing flash: this reading is lost, said
        dropped += 1
        print("outbox: write failed (%r): dropped" % (e,))
        return False
    last, seq = n, reading_seq
    if n - acked > size:
        acked = n - size
        dropped += 1
    return True


def peek():
    """The topic of the oldest record not acknowledged, its payload in
    parts[0] (views of the record buffer: good until the next put or peek);
    None when that record does not check: then it is skipped and counted."""
    global acked, dropped
    n = acked + 1
    try:
        _f.seek(((n - 1) % size) * RECORD)
        ok = _f.readinto(_buf) == RECORD and _good() and _u32(2) == n
    except OSError:
        ok = False
    if not ok:
        acked = n
        dropped += 1
        return None
    end = _HEAD + _length()
    nl = _HEAD
    while nl < end and _buf[nl] != 10:
        nl += 1
    parts[0] = _mv[nl + 1:end]
    return _mv[_HEAD:nl]


def done():
    """The oldest record was acknowledged."""
    global acked, _unsaved
    acked += 1
    _unsaved += 1
    if _unsaved >= _SAVE_EVERY:
        _unsaved = 0
        store.save(ACKED, acked)
