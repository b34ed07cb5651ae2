# What the board's ROM does after a reset. The runner's bootstrap has mapped
# the ROM image (these fakes, at /vrom; its buffer is vboard.rom) and imports
# us from it. The fakes are loaded first (on a board they are built-in C
# modules) and /vrom is unmounted (a board's "/" shows only its flash); then
# the flash folder becomes the filesystem root and the import path is a
# board's ('', '.frozen', '/lib'), so "/config.json" or mpremote's
# ":/lib/..." mean the flash, never the host. A ROMFS partition (/romfs.img
# on the flash, written by the flashing tool) is mapped at /rom, on the path
# after the flash and .frozen, and its .mpy files run in place, as from a board's memory-mapped
# flash: the runner gave the VM the image's buffer on top of the heap asked
# for. Then boot.py, main.py, and the REPL (the runner starts us with -i). A
# KeyboardInterrupt (Ctrl-C on the console) stops them, as on a board.
import gc
import os
import sys
import vfs
import vboard
if vboard.board.get("clock", 1) > 1:
    # An accelerated clock (vclock.py): `time` for everything after, the
    # fakes included, before any of them imports it.
    import vclock
    sys.modules["time"] = vclock
    del sys.modules["vclock"], vclock
import machine
import network
import ntptime

vfs.umount("/vrom")
_flash = os.getcwd()
vfs.umount("/")
vfs.mount(vfs.VfsPosix(_flash), "/")
os.chdir("/")
sys.path[:] = ["", ".frozen", "/lib"]
try:
    _b = bytearray(os.stat("/romfs.img")[6])
except OSError:
    _b = None  # no ROMFS partition: code as files on the flash
if _b is not None:
    with open("/romfs.img", "rb") as _f:
        _f.readinto(_b)
    vfs.mount(vfs.VfsRom(_b), "/rom")
    sys.path.insert(2, "/rom")  # after the flash, as a ROMFS board: files written there override it
    del _f
# The boards' static Pin objects, one per GPIO (ESP8266 0-16, ESP32 0-39),
# made before the trim: on a board they are in ROM, not in the heap.
for _i in range(40 if vboard.board.get("board") == "esp32" else 17):
    machine.Pin(_i)
del _flash, _b, _i, machine, network, ntptime


def _trim(want):
    # The runner gave room for these fakes on top of the firmware's heap (on
    # a board they take none). The bootstrap reserved the firmware's heap
    # first, at the bottom (vboard.reserve). All the free space the fakes
    # left, down to one-block holes between their objects, is filled with a
    # ballast; then the reserve is given back and its lower part joins the
    # ballast, so that boot.py finds exactly the free heap of a bare VM with
    # the heap asked for, and in one piece, as on a board.
    b = vboard.ballast = []
    vboard.filler = None  # its slot made now: the heap is full when it is set
    # The last two pieces go in slots made now too: appended to the ballast
    # list, its growth (taken from the freed reserve, after the sizes were
    # counted) left the firmware up to 64 B short.
    tail = vboard.tail = [None, None]
    gc.collect()
    n = gc.mem_free()
    while n >= 256:
        try:
            b.append(bytearray(n - 64))
        except MemoryError:
            n //= 2
        else:
            gc.collect()
            n = gc.mem_free()
    f = None
    try:
        while True:
            f = (f,)  # one block each, chained: no container to grow
    except MemoryError:
        pass
    vboard.filler = f
    f = vboard.reserve = None
    for i in range(2):  # 16-byte blocks and a bytearray's header: two steps, within 48 B
        gc.collect()
        n = gc.mem_free() - want - 48
        if n > 0:
            tail[i] = bytearray(n)
    gc.collect()
    free = gc.mem_free()
    if free < want:
        print("vboot: %d B free, %d B wanted: FAKES_ROOM too small" % (free, want))


# A board's boot code is not a module in sys.modules: the firmware's
# imports then grow that table as they would on a board.
sys.modules.pop("vboot", None)
_trim(vboard.board.get("free", 0))
del _trim, vboard


def _run(name):
    try:
        open(name).close()
    except OSError:
        return
    try:
        exec(open(name).read(), {"__name__": "__main__"})
    except KeyboardInterrupt:
        print("KeyboardInterrupt in", name)
    except Exception as e:
        sys.print_exception(e)
    gc.collect()


_run("boot.py")
_run("main.py")
del _run
