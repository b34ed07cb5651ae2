"""The card's pictures: the OS icon and the installer's slides.

NOOBS and PINN want PNGs (a 40x40 icon, 640x480 slides in marketing.tar).
They are drawn here as flat colour with a band, written with zlib: no
imaging library for two plain pictures.
"""
import io
import struct
import tarfile
import zlib

BLUE = (0, 84, 147)       # neOCampus blue
GREEN = (120, 190, 32)


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, colour=BLUE, band=GREEN):
    """An RGB PNG: `colour`, with a band of `band` across its lower third."""
    rows = []
    for y in range(height):
        c = band if 2 * height // 3 <= y < 2 * height // 3 + max(1, height // 10) else colour
        rows.append(b"\x00" + bytes(c) * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + _chunk(b"IEND", b""))


def icon():
    return png(40, 40)


def marketing_tar(mtime=0):
    """marketing.tar: slides_vga/A.png, shown while the OS is written."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("slides_vga/A.png", png(640, 480)),):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
