"""The virtual board's heap arithmetic: what -X heapsize gives the firmware
exactly the heap asked for, once the VM has mapped its ROM images and loaded
the peripheral fakes (which on a board take no heap)."""
import re

from toolchain import micropython as upy
from virtual_board.spec import BoardError


# Heap the firmware gets by default: the 64-bit equivalent of the budget.
# The budget is 24 KB as a 32-bit board counts it (25 % headroom in the
# ~32 KB an ESP8266 has free after boot), measured by bench/heap32.py in the
# 32-bit WebAssembly port. This 64-bit port's objects take more room: the
# same scenario measures 1.84 times the bytes (instances and lists double,
# strings and bytes do not), so 24 KB there is 45k here (bench/heap32.py
# prints the ratio and this figure; firmware/README.md, Heap).
DEFAULT_HEAP = "45k"


def parse_heap(text):
    m = re.fullmatch(r"(\d+)([kKmM]?)", str(text).strip())
    if not m:
        raise BoardError("heap %r: want a size such as 36k" % text)
    return m.group(1) + m.group(2).lower()


# Measured heap figures, by (heap, image sizes): a few VM runs each, once.
_HEAP_CACHE = {}
_HEAP_PROBE = """\
import gc, sys
gc.collect()
free = gc.mem_free()
bufs = [bytearray(int(n)) for n in sys.argv[1:]]
gc.collect()
a = gc.mem_alloc()
del bufs
gc.collect()
print(gc.mem_alloc() + gc.mem_free(), a - gc.mem_alloc(), free)
"""
# Room given for the peripheral fakes (and vboot) on top of the heap: on a
# board they are built-in C modules and ROM code that take no heap. The
# bootstrap reserves the firmware's heap before they load, and vboot.py
# fills what they did not use (a ballast), so the firmware starts with
# exactly the free heap of a bare VM with the heap asked for, in one piece.
FAKES_ROOM = 32 * 1024


def heap_bytes(heap):
    """A heap size such as "45k" in bytes."""
    heap = parse_heap(heap)
    return int(heap[:-1]) * (1024 if heap[-1] == "k" else 1048576) if heap[-1] in "km" else int(heap)


def vm_heap(heap, images):
    """(-X heapsize in bytes, bytes the image buffers take, free heap the
    firmware must find when boot.py starts). The heapsize gives, on top of
    `heap`, the image buffers exactly (measured: the ROMFS images stand for
    memory-mapped flash) and FAKES_ROOM; the free figure is what a bare VM
    with `heap` has, which vboot.py trims the heap to."""
    heap = parse_heap(heap)
    sizes = tuple(int(n) for n in images)
    key = (heap, sizes)
    if key not in _HEAP_CACHE:
        def probe(size, bufs):
            out = upy.run(code=_HEAP_PROBE, args=[str(n) for n in bufs], heap=size, timeout=20)
            if out.returncode != 0:
                raise BoardError("heap probe failed: %s" % (out.stderr or out.stdout)[-300:])
            return tuple(int(w) for w in out.stdout.split())
        want, _, free = probe(heap, ())  # what the firmware would have with no images
        size = heap_bytes(heap) + probe("4m", sizes)[1]
        for _ in range(8):
            total, taken, _ = probe(size, sizes)
            if total - taken >= want:
                break
            size += want - (total - taken) + 64
        else:
            raise BoardError("heap probe: no heapsize found for %s + images %s" % (heap, sizes))
        _HEAP_CACHE[key] = (size + FAKES_ROOM, taken, free)
    return _HEAP_CACHE[key]

