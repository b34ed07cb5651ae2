"""Files in and out of a disk image's FAT (boot) partition with mtools: no
root, no loop device.

An image is either a whole disk (an MBR, the boot partition first, as
Raspberry Pi OS images are) or a bare FAT file system; mtools reaches a
partition through `IMAGE@@OFFSET`.
"""
import os
import shutil
import struct
import subprocess

FAT_TYPES = (0x01, 0x04, 0x06, 0x0B, 0x0C, 0x0E)


class ImageError(RuntimeError):
    pass


def _need(tool):
    path = shutil.which(tool)
    if path is None:
        raise ImageError("%s not found: install mtools (sudo apt-get install mtools)" % tool)
    return path


def fat_offset(path):
    """Byte offset of the first FAT partition (0 for a bare FAT file system)."""
    try:
        with open(path, "rb") as f:
            sector = f.read(512)
    except OSError as e:
        raise ImageError("cannot read %s: %s" % (path, e.strerror))
    if len(sector) < 512 or sector[510:512] != b"\x55\xaa":
        raise ImageError("%s is not a disk image (no boot signature in its first sector)" % path)
    if sector[0x36:0x39] == b"FAT" or sector[0x52:0x57] == b"FAT32":
        return 0
    for i in range(4):
        entry = sector[0x1BE + 16 * i:0x1BE + 16 * (i + 1)]
        kind = entry[4]
        (start,) = struct.unpack("<I", entry[8:12])
        if kind in FAT_TYPES and start:
            return start * 512
    raise ImageError("%s has no FAT partition in its partition table" % path)


def _target(path):
    return "%s@@%d" % (path, fat_offset(path))


def _run(cmd, data=None):
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1", MTOOLS_NO_VFAT="0")
    r = subprocess.run(cmd, input=data, capture_output=True, env=env)
    if r.returncode:
        raise ImageError("%s failed: %s" % (os.path.basename(cmd[0]),
                                            (r.stderr or r.stdout).decode(errors="replace").strip()))
    return r.stdout


def read(image, name):
    """A file of the FAT partition, or None when it is not there."""
    target = _target(image)
    listing = _run([_need("mdir"), "-b", "-i", target, "::/"]).decode(errors="replace").split()
    if ("::/" + name) not in listing and name not in [os.path.basename(x) for x in listing]:
        return None
    return _run([_need("mcopy"), "-n", "-i", target, "::/" + name, "-"])


def write(image, name, data):
    """Write (or replace) a file at the root of the FAT partition."""
    _run([_need("mcopy"), "-o", "-n", "-i", _target(image), "-", "::/" + name], data=data)


def names(image):
    out = _run([_need("mdir"), "-b", "-i", _target(image), "::/"]).decode(errors="replace")
    return sorted(os.path.basename(line.strip()) for line in out.splitlines() if line.strip())
