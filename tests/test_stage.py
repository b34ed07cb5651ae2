"""firmware/neosensor/stage.py in the real MicroPython unix port: the hash
listing, staged copies verified by sha256 on the board, the switch (plan
first, then renames and removals), a switch cut half-way finished by
resume(), erase. The VM's "/" is a folder of this test, as on the virtual
board (VfsPosix mounted at /)."""
import hashlib

import pytest

from harness import ROOT
from toolchain.board_link import board_source

pytestmark = pytest.mark.micropython

STAGE = (ROOT / "firmware" / "neosensor" / "stage.py").read_text()
# The flash folder as the root, as vboot.py mounts it.
ROOT_MOUNT = "import os, vfs\n_d = os.getcwd()\nvfs.umount('/')\nvfs.mount(vfs.VfsPosix(_d), '/')\nos.chdir('/')\n"


# The whole source with its docstrings is compiled here, in the VM's heap: 42k
# at least (a board imports stage.mpy, or gets board_source(): 33k).
def run(micropython, body, source=STAGE, heap="64k"):
    return micropython.run(code=ROOT_MOUNT + source + "\n" + body, portable=False, heap=heap).stdout


def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_listing_gives_every_files_sha256_computed_on_the_board(micropython):
    flash = micropython.flash_dir
    (flash / "lib" / "pkg").mkdir(parents=True)
    files = {"boot.py": b"print(1)\n", "lib/pkg/a.mpy": bytes(range(256)) * 9, "empty": b""}
    for name, data in files.items():
        (flash / name).write_bytes(data)
    out = run(micropython, "listing()")
    got = dict(reversed(line.split(" ", 1)) for line in out.splitlines())
    assert got == {"/" + n: sha(d) for n, d in files.items()}


def test_a_staged_copy_is_verified_and_a_bad_one_removed(micropython):
    good, bad = b"x" * 1500, b"y" * 700
    out = run(micropython, """
begin('/lib/m/good.mpy')
write(%r)
write(%r)
print(end(%r))
begin('/bad.mpy')
write(%r)
print(end(%r))
""" % (good[:1000], good[1000:], sha(good), bad, sha(b"other")))
    assert out.split() == ["True", "False"]
    stage = micropython.flash_dir / ".stage"
    assert (stage / "lib" / "m" / "good.mpy").read_bytes() == good
    assert not (stage / "bad.mpy").exists()
    assert not (micropython.flash_dir / "lib").exists()  # nothing in place before the switch


def test_switch_puts_staged_files_in_place_and_removes_the_old_ones(micropython):
    flash = micropython.flash_dir
    (flash / "neosensor").mkdir()
    (flash / "neosensor" / "app.mpy").write_bytes(b"old app")
    (flash / "neosensor" / "gone.mpy").write_bytes(b"left the manifest")
    (flash / "sensocampus.json").write_bytes(b"{}")
    out = run(micropython, """
begin('/neosensor/app.mpy'); write(b'new app'); print(end(%r))
begin('/lib/x/new.mpy'); write(b'new'); print(end(%r))
print(switch(['/neosensor/gone.mpy']))
""" % (sha(b"new app"), sha(b"new")))
    assert out.split() == ["True", "True", "True"]
    assert (flash / "neosensor" / "app.mpy").read_bytes() == b"new app"
    assert (flash / "lib" / "x" / "new.mpy").read_bytes() == b"new"
    assert not (flash / "neosensor" / "gone.mpy").exists()
    assert (flash / "sensocampus.json").exists()
    assert not (flash / ".stage").exists()


def test_a_switch_cut_half_way_is_finished_by_resume(micropython):
    flash = micropython.flash_dir
    (flash / "a.mpy").write_bytes(b"old a")
    (flash / "b.mpy").write_bytes(b"old b")
    (flash / "old.mpy").write_bytes(b"old")
    # Power cut after the plan and the first rename: a.mpy new, b.mpy still staged.
    stage = flash / ".stage"
    stage.mkdir()
    (stage / "b.mpy").write_bytes(b"new b")
    (stage / ".plan").write_text("-/old.mpy\n")
    (flash / "a.mpy").write_bytes(b"new a")
    out = run(micropython, "print(resume())\nprint(resume())")
    assert out.split() == ["True", "False"]   # the second has no plan left
    assert {p.name: p.read_bytes() for p in flash.iterdir()} == {"a.mpy": b"new a", "b.mpy": b"new b"}


def test_a_cut_before_the_plan_leaves_the_old_files_and_drop_clears_stale_copies(micropython):
    flash = micropython.flash_dir
    (flash / "a.mpy").write_bytes(b"old a")
    (flash / ".stage").mkdir()
    (flash / ".stage" / "a.mpy").write_bytes(b"half of a ne")   # a copy cut mid-way
    out = run(micropython, "print(resume())\ndrop('/a.mpy')\nlisting()")
    assert out.split("\n")[0] == "False"
    assert (flash / "a.mpy").read_bytes() == b"old a"
    assert out.split("\n")[1:] == ["%s /a.mpy" % sha(b"old a"), ""]


def test_erase_removes_every_file_and_folder(micropython):
    flash = micropython.flash_dir
    (flash / "lib" / "d").mkdir(parents=True)
    (flash / "lib" / "d" / "x.mpy").write_bytes(b"1")
    (flash / "config.json").write_text("{}")
    (flash / ".stage").mkdir()
    (flash / ".stage" / "y").write_bytes(b"2")
    assert run(micropython, "print(erase())").split() == ["3"]
    assert list(flash.iterdir()) == []


def test_the_source_sent_over_the_repl_behaves_the_same(micropython):
    # neoc flash sends stage.py without its docstrings: the same code.
    sent = board_source()
    assert "Stage-and-switch" not in sent and len(sent) < len(STAGE) * 0.8
    out = run(micropython, "begin('/f'); write(b'abc'); print(end(%r)); print(switch([]))" % sha(b"abc"),
              source=sent)
    assert out.split() == ["True", "True"]
    assert (micropython.flash_dir / "f").read_bytes() == b"abc"


# A ROMFS partition as vfs.rom_ioctl numbers its calls (1 count, 2 the
# partition, 3 prepare, 4 write, 5 end, 6 block size): 8 KB of "flash" in
# 1 KB blocks, recording each call.
FAKE_PARTITION = """
import sys
class _Dev:
    def __len__(self): return 8192
class _Vfs:
    part = bytearray(b'\\xff' * 8192)
    calls = []
    @staticmethod
    def umount(p):
        _Vfs.calls.append('umount')
    @staticmethod
    def rom_ioctl(op, *a):
        _Vfs.calls.append(op)
        if op == 1: return 1
        if op == 2: return _Dev()
        if op == 3: return 1024
        if op == 6: return 1024
        if op == 4:
            _Vfs.part[a[1]:a[1] + len(a[2])] = a[2]
        return 0
sys.modules['vfs'] = _Vfs
"""


def test_a_staged_image_goes_into_the_romfs_partition_at_the_switch(micropython):
    image = bytes(range(256)) * 10 + b"end"     # 2563 B: three blocks erased, one 4 KB write
    out = run(micropython, FAKE_PARTITION + """
print(partition())
begin('/romfs.img'); write(%r); print(end(%r))
print(switch([], '/romfs.img'))
import vfs
print(vfs.calls)
print(bytes(vfs.part[:%d]) == %r, vfs.part[%d:4096] == bytearray(%d), vfs.part[4096:] == b'\\xff' * 4096)
""" % (image, sha(image), len(image), image, len(image), 4096 - len(image)), heap="256k")
    assert out.split("\n")[:5] == ["8192", "True", "True", "[1, 2, 'umount', 6, 1, 2, 3, 4, 5]",
                                    "True True True"]
    # The file stays: its hash in the next listing says what the partition holds.
    assert (micropython.flash_dir / "romfs.img").read_bytes() == image


# machine.reset() as the VM's end, saying what the fake partition got by then.
FAKE_MACHINE = """
class _Machine:
    @staticmethod
    def reset():
        import vfs
        print('reset', vfs.calls, bytes(vfs.part[:%d]) == %r)
        raise SystemExit
sys.modules['machine'] = _Machine
"""


def test_a_partition_write_from_code_in_that_partition_is_handed_to_a_filesystem_copy(micropython):
    """A ROMFS deploy runs stage.py in place from /rom, the partition its
    switch rewrites (and its callers too: supervisor, setup, ota). So it
    does not write it: it copies itself to the filesystem (/neosensor_romwrite.mpy) and
    resets; boot.py imports that copy before anything runs from /rom, and
    it writes the partition, removes itself and resets."""
    from toolchain.mpy import compile_file
    flash = micropython.flash_dir
    rom = flash / "rom" / "neosensor"
    compile_file(ROOT / "firmware" / "neosensor" / "__init__.py", rom / "__init__.mpy", source_name="neosensor/__init__.py")
    stage_mpy = compile_file(ROOT / "firmware" / "neosensor" / "stage.py", rom / "stage.mpy",
                             source_name="neosensor/stage.py").read_bytes()
    (flash / "romfs.img").write_bytes(b"the old image")
    image = bytes(range(256)) * 10 + b"end"
    fakes = FAKE_PARTITION + FAKE_MACHINE % (len(image), image) + "sys.path[:] = ['', '/rom']\n"
    out = micropython.run(code=ROOT_MOUNT + fakes + """
from neosensor import stage
print(stage.__file__)
stage.begin('/romfs.img'); stage.write(%r); print(stage.end(%r))
stage.switch([], '/romfs.img', '/.prev')
""" % (image, sha(image)), portable=False, heap="256k").stdout.splitlines()
    assert out[:2] == ["/rom/neosensor/stage.mpy", "True"], out
    assert out[2] == "stage: the ROMFS partition is written after a reset, from /neosensor_romwrite.mpy", out
    assert out[3] == "reset [] False", out        # not one ioctl from the code in the partition
    assert (flash / "neosensor_romwrite.mpy").read_bytes() == stage_mpy
    assert (flash / ".stage" / ".plan").read_text() == ">/.prev\n!/romfs.img\n"
    assert (flash / "romfs.img").read_bytes() == image and (flash / ".prev" / "romfs.img").exists()

    # The next boot: boot.py, as a board runs it.
    boot = (ROOT / "firmware" / "boot.py").read_text()
    out = micropython.run(code=ROOT_MOUNT + fakes + boot, portable=False, heap="256k").stdout.splitlines()
    assert out == ["reset ['umount', 6, 1, 2, 3, 4, 5] True"], out   # erased, written, ended
    assert not (flash / "neosensor_romwrite.mpy").exists() and not (flash / ".stage").exists()
    assert (flash / ".prev" / "romfs.img").read_bytes() == b"the old image"   # for a rollback

    # A boot with nothing pending: boot.py's import finds no copy and goes on.
    out = micropython.run(code=ROOT_MOUNT + fakes + boot + "print('main.py next')", portable=False).stdout
    assert out.strip() == "main.py next", out


def test_a_rollback_of_a_romfs_image_writes_the_partition_through_the_plan(micropython):
    """restore() writes the kept image back through a plan too: from the
    partition's code it is handed to the filesystem copy as a switch is."""
    flash = micropython.flash_dir
    (flash / ".prev").mkdir()
    old = b"old image " * 100
    (flash / ".prev" / "romfs.img").write_bytes(old)
    (flash / "romfs.img").write_bytes(b"the failed image")
    (flash / "rom").mkdir()
    (flash / "rom" / "stage.mpy").write_bytes(b"this code, in the partition")
    out = run(micropython, FAKE_PARTITION + FAKE_MACHINE % (len(old), old) + """
__file__ = '/rom/stage.mpy'
try:
    restore('/.prev')
except SystemExit:
    pass
""", heap="256k")
    assert out.splitlines()[-1] == "reset [1, 2] False", out   # its size asked, nothing written
    assert (flash / ".stage" / ".plan").read_text() == "!/romfs.img\n"
    assert (flash / "romfs.img").read_bytes() == old and not (flash / ".prev").exists()
    assert (flash / "neosensor_romwrite.mpy").read_bytes() == b"this code, in the partition"
