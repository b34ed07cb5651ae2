"""The files the firmware writes survive a reset at any step, in the real
MicroPython VM: store.py's atomic JSON files (with the FAT fallback, where a
rename cannot replace a file) and the outbox's ring of records (a write cut
in the middle, a corrupt file, a full ring). A "reset" is an exception
raised from inside the write, after which the state on the flash folder is
loaded again as a fresh boot would."""
import json

import pytest

from harness import ROOT
from toolchain import micropython as upy
from toolchain.mpy import compile_file

pytestmark = pytest.mark.micropython

PRELUDE = """
import os, sys
class Reset(BaseException):
    pass
"""

# save() of store.py on a FAT-like flash (a rename cannot replace a file)
# with a reset injected at step K of its work: 0 halfway through writing the
# temp file, 1 once it is complete (before any rename), 2 just after the old
# file's removal, 3 none.
STORE = PRELUDE + """
from neosensor import store
K = int(sys.argv[1])
class FatOs:
    def rename(self, a, b):
        if K == 1:
            raise Reset()
        try:
            os.stat(b)
        except OSError:
            return os.rename(a, b)
        raise OSError(17)  # EEXIST: FAT renames onto no existing file
    def remove(self, n):
        os.remove(n)
        if K == 2:
            raise Reset()

store.os = FatOs()
try:
    if K == 0:  # json.dump writes to a real stream only: the cut is made by hand
        with open("f.json.tmp", "w") as f:
            f.write('{"v": "ne')
        raise Reset()
    store.save("f.json", {"v": "new"})
except Reset:
    print("RESET")
store.os = os
print("LOADED", store.load("f.json", "default"))
"""


def _vm(tmp_path, code, *args, files=()):
    flash = tmp_path / "flash"
    lib = tmp_path / "lib"
    for rel in files:
        compile_file(ROOT / "firmware" / rel, lib / rel.replace(".py", ".mpy"), source_name=rel)
    flash.mkdir(exist_ok=True)
    out = upy.run(code=code, args=[str(a) for a in args], heap="256k", path=[lib], cwd=flash, timeout=60)
    assert out.returncode == 0, out.stderr + out.stdout
    return out.stdout


@pytest.fixture
def vm(tmp_path):
    reason = upy.unavailable_reason()
    if reason:
        from harness import need
        need(reason)
    return lambda code, *args: _vm(tmp_path, code, *args,
                                   files=("neosensor/__init__.py", "neosensor/store.py", "neosensor/outbox.py"))


@pytest.mark.parametrize("step", [0, 1, 2, 3])
def test_a_reset_at_any_step_of_a_save_leaves_the_old_or_the_new_file(vm, tmp_path, step):
    (tmp_path / "flash").mkdir()
    (tmp_path / "flash" / "f.json").write_text(json.dumps({"v": "old"}))
    out = vm(STORE, step)
    loaded = [line for line in out.splitlines() if line.startswith("LOADED")]
    assert loaded, out
    # Until the old file is removed, the old content; from then on (the new
    # one complete in the temp file, then renamed), the new.
    want = "{'v': 'old'}" if step < 2 else "{'v': 'new'}"
    assert loaded[0] == "LOADED " + want, (step, out)
    assert ("RESET" in out) == (step < 3)


# supervisor.py's crash.count (its own small file, read before anything
# else is loaded) on a FAT-like flash, the count at 2, a save of 3 with a
# reset at step K as above; then three more crashes counted.
CRASHES = PRELUDE + """
import os as real_os
STEP = int(sys.argv[1])
K = 3   # no reset while the count is set to 2
class FatOs:
    def rename(self, a, b):
        if K == 1:
            raise Reset()
        try:
            real_os.stat(b)
        except OSError:
            return real_os.rename(a, b)
        raise OSError(17)
    def remove(self, n):
        real_os.remove(n)
        if K == 2:
            raise Reset()
sys.modules["os"] = FatOs()   # what supervisor's `import os` gets
from neosensor import supervisor
supervisor._crashes(1)
supervisor._crashes(2)
K = STEP
try:
    if K == 0:
        with open("crash.tmp", "w") as f:
            f.write("3")
        open("crash.tmp", "w").close()   # cut: the temp file emptied
        raise Reset()
    supervisor._crashes(3)
except Reset:
    print("RESET")
print("COUNT", supervisor._crashes())
K = 3
n = supervisor._crashes()
for _ in range(3):
    n += 1
    supervisor._crashes(n)
print("THEN", supervisor._crashes())
"""


@pytest.mark.parametrize("step", [0, 1, 2, 3])
def test_the_crash_count_survives_a_reset_at_any_step_and_counts_on_fat(tmp_path, step):
    """Safe mode comes after 5 crashes counted in crash.count: on FAT, where
    a rename cannot replace a file, the count must still grow; a reset in
    the middle of its save leaves the old count, the new one or none (0),
    never a file that stops the boot."""
    reason = upy.unavailable_reason()
    if reason:
        from harness import need
        need(reason)
    out = _vm(tmp_path, CRASHES, step, files=("neosensor/__init__.py", "neosensor/supervisor.py"))
    want = {0: 2, 1: 2, 2: 0, 3: 3}[step]
    assert "COUNT %d" % want in out and "THEN %d" % (want + 3) in out, (step, out)
    assert ("RESET" in out) == (step < 3)


RING = PRELUDE + """
from neosensor import outbox
def reopen(size):
    outbox.last = outbox.acked = 0
    outbox.seq = -1
    outbox.dropped = 0
    if outbox._f:
        outbox._f.close()
    outbox.open_ring(size)
    return outbox.last, outbox.acked, outbox.seq, outbox.queued()
def drain():
    got = []
    while outbox.queued():
        t = outbox.peek()
        if t is not None:
            got.append((bytes(t).decode(), bytes(outbox.parts[0]).decode()))
            outbox.done()
    return got
"""


def _payload(i):
    return ['{"value": %d, ' % i, '"seq": %d}' % (100 + i)]


def test_the_ring_keeps_records_across_a_reopen_and_sends_them_in_order(vm):
    out = vm(RING + """
reopen(16)
for i in range(5):
    outbox.put("u4/302/temperature", %r[:0] + ['{"value": %%d, ' %% i, '"seq": %%d}' %% (100 + i)], 100 + i)
print("STATE", reopen(16))
print("GOT", drain())
print("AFTER", reopen(16)[3] <= 5, outbox.dropped)
""" % ([],))
    assert "STATE (5, 0, 104, 5)" in out, out
    got = eval(out.split("GOT ", 1)[1].splitlines()[0])
    assert got == [("u4/302/temperature", "".join(_payload(i))) for i in range(5)]


def test_a_write_cut_in_the_middle_loses_that_record_only(vm):
    out = vm(RING + """
reopen(8)
for i in range(3):
    outbox.put("t/m", ['{"v": %d}' % i], 10 + i)
outbox.done()  # the first one acknowledged (not saved: resent after a reset)
# The fourth record's write cut in its data: 18 of its 27 bytes on the flash.
outbox._buf[:] = bytearray(192)
good = outbox.last
outbox.put("t/m", ['{"v": 3}'], 13)
rec = bytes(outbox._buf)
outbox._f.seek(3 * 192)
outbox._f.write(bytearray(192))
outbox._f.seek(3 * 192)
outbox._f.write(rec[:18])
outbox._f.flush()
print("STATE", reopen(8))
print("GOT", drain())
""")
    # The torn record fails its checksum: the newest is the third, seq 12.
    assert "STATE (3, 0, 12, 3)" in out, out
    got = eval(out.split("GOT ", 1)[1].splitlines()[0])
    assert [p for _, p in got] == ['{"v": 0}', '{"v": 1}', '{"v": 2}']


def test_a_full_ring_drops_the_oldest_and_counts_them(vm):
    out = vm(RING + """
reopen(16)
for i in range(20):
    outbox.put("t/m", ['{"v": %d}' % i], i)
print("DROPPED", outbox.dropped, outbox.queued())
print("GOT", [p for _, p in drain()])
print("STATE", reopen(16))
""")
    assert "DROPPED 4 16" in out, out
    got = eval(out.split("GOT ", 1)[1].splitlines()[0])
    assert got == ['{"v": %d}' % i for i in range(4, 20)]
    assert "STATE (20, 4, 19, 16)" in out  # nothing acknowledged saved yet: resent after a reset


def test_a_corrupt_ring_file_is_survived_and_recovered_from(vm, tmp_path):
    (tmp_path / "flash").mkdir()
    (tmp_path / "flash" / "outbox.bin").write_bytes(bytes(range(256)) * 40 + b"\xff" * 77)
    (tmp_path / "flash" / "outbox.json").write_text("{not json")
    out = vm(RING + """
print("STATE", reopen(16))
outbox.put("t/m", ['{"v": 1}'], 7)
print("GOT", drain())
""")
    assert "STATE (0, 0, -1, 0)" in out, out
    assert "GOT [('t/m', '{\"v\": 1}')]" in out


def test_a_reading_too_long_for_a_record_is_dropped_and_said(vm):
    out = vm(RING + """
reopen(16)
print("KEPT", outbox.put("t/m", ['{"v": "%s"}' % ("x" * 300)], 1), outbox.dropped, outbox.queued())
""")
    assert "outbox: reading too long for a record: dropped" in out
    assert "KEPT False 1 0" in out
