"""Stage-and-switch: new files go to /.stage first, and into place only
when every one is there and verified, so a cut at any moment leaves the
old firmware booting. One implementation for `neoc flash` (which sends this
source over the REPL) and the over-the-air update (which imports it).

    listing()                 "sha256hex path" of every file, staged ones included
    begin(path) / write(data) / end(sha256hex) -> True when the staged copy matches
    switch(removes, rom, keep) plan written, then renames (and the ROMFS partition
                              written from rom); resume() ends a cut switch;
                              with keep, the old files go there, not away
    restore(keep)             the kept files back in place (an update rolled back)
    erase()                   every file removed (MicroPython stays)

Set-up phase or REPL only, never the loop: it allocates paths and a hash.
"""
import binascii
import hashlib
import os

STAGE = "/.stage"
PLAN = STAGE + "/.plan"
# Mount points, not flash: the ROMFS partition and the virtual board's ROM.
SKIP = ("/rom", "/vrom")
ROM = "/rom/"             # code imported from there runs in place from the partition
# This module's copy that writes the partition (see _handoff): a name longer
# than the compiler interns, so that boot.py adds no qstr to any boot.
HANDOFF = "/neosensor_romwrite.mpy"
_DIR = 0x4000
_buf = bytearray(512)
_out = None   # the staged file being written
_name = None


def _join(top, name):
    return ("/" if top == "/" else top + "/") + name


def digest(path):
    h = hashlib.sha256()
    mv = memoryview(_buf)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(_buf)
            if not n:
                break
            h.update(mv[:n])
    return binascii.hexlify(h.digest()).decode()


def files(top, found):
    """Call found(path) for each file under top (depth first)."""
    try:
        entries = list(os.ilistdir(top))
    except OSError:
        return
    for e in entries:
        path = _join(top, e[0])
        if e[1] == _DIR:
            if path not in SKIP:
                files(path, found)
        else:
            found(path)


def listing(top="/"):
    """One line per file: its sha256 computed here, then its path. The
    PC compares it with what it would send: one script run for the lot."""
    files(top, lambda p: print(digest(p), p))


def _makedirs(path):
    # Parents of path, made one level at a time (no os.makedirs here).
    i = path.find("/", 1)
    while i > 0:
        try:
            os.mkdir(path[:i])
        except OSError:
            pass    # there already
        i = path.find("/", i + 1)


def _rename(old, new):
    # The unix port's VfsPosix (the virtual board's flash) builds both
    # absolute names in one buffer: rename("/a", "/b") renames /b onto
    # itself. The new name relative to "/" is the same file on any board.
    os.chdir("/")
    os.rename(old, new[1:])


def begin(path):
    """Start the staged copy of path (absolute, as on the flash)."""
    global _out, _name
    if _out:
        _out.close()
    _name = STAGE + path
    _makedirs(_name)
    _out = open(_name, "wb")


def write(data):
    _out.write(data)


def end(sha):
    """Close the staged copy; True when its sha256 on this board is sha.
    A bad copy is removed, so that it is sent again."""
    global _out
    _out.close()
    _out = None
    if digest(_name) == sha:
        return True
    os.remove(_name)
    return False


def drop(path):
    """Remove a staged copy no longer wanted (a cut copy of another build)."""
    try:
        os.remove(STAGE + path)
    except OSError:
        pass


def switch(removes=(), rom=None, keep=None):
    """Put every staged file in place and remove `removes` (files of the
    old firmware the new one has not); with rom, then copy that file into
    the ROMFS partition. keep: a folder the replaced and removed files are
    moved to instead (restore() puts them back), with the list of the files
    that are new in keep/.added. The plan is written first (atomically): a
    cut from here on is finished by resume()."""
    _plan(([">" + keep] if keep else []) + ["-" + p for p in removes] + (["!" + rom] if rom else []))
    return resume()


def _plan(lines):
    # The plan, written whole or not at all.
    _makedirs(PLAN)
    with open(PLAN + ".tmp", "w") as f:
        for line in lines:
            f.write(line + "\n")
    _rename(PLAN + ".tmp", PLAN)


def resume():
    """Finish a switch whose plan is there; False when there is none."""
    try:
        f = open(PLAN)
    except OSError:
        return False
    plan = [line.strip() for line in f if line.strip()]
    f.close()
    keep = plan[0][1:] if plan and plan[0][0] == ">" else None
    moved = []
    files(STAGE, lambda p: p != PLAN and not p.endswith(".tmp") and moved.append(p))
    for staged in moved:
        target = staged[len(STAGE):]
        _makedirs(target)
        _away(target, keep)
        _rename(staged, target)
    for line in plan:
        if line[0] == "-":
            _away(line[1:], keep, False)
            _prune(line[1:])
        elif line[0] == "!":
            if globals().get("__file__", "").startswith(ROM):
                _handoff()   # never returns: the write is done by the copy boot.py imports
            rom_write(line[1:])
    os.remove(PLAN)
    _rmtree(STAGE)
    return True


def _handoff():
    # This code runs in place from the ROMFS partition the plan rewrites (a
    # ROMFS deploy), and so do its callers up the stack (supervisor, setup,
    # ota): erasing it would pull the bytecode from under them. So this
    # module's .mpy is copied to the filesystem as HANDOFF (atomically) and
    # the board resets; boot.py, before anything runs from the partition,
    # imports that copy, which calls finish(). The plan stays: a cut anywhere
    # is finished by the next resume(), here or there.
    with open(__file__, "rb") as src, open(HANDOFF + ".tmp", "wb") as dst:
        while True:
            n = src.readinto(_buf)
            if not n:
                break
            dst.write(memoryview(_buf)[:n])
    _rename(HANDOFF + ".tmp", HANDOFF)
    print("stage: the ROMFS partition is written after a reset, from " + HANDOFF)
    import machine
    machine.reset()


def finish():
    # Run by the copy boot.py imports (HANDOFF, this module): the pending
    # plan carried out from the filesystem, the partition written, the copy
    # removed, then a reset into the new partition.
    resume()
    os.remove(HANDOFF)
    import machine
    machine.reset()


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _away(path, keep, new=True):
    # The old file out of the way of the new one: removed (FAT will not
    # rename over a file), or moved into keep unless a cut switch moved it
    # there already. new: path gets a new file, noted in keep/.added when
    # there was none before (restore() removes it).
    if keep and not _exists(keep + path):
        if _exists(path):
            _makedirs(keep + path)
            _rename(path, keep + path)
        elif new:
            _makedirs(keep + "/")
            with open(keep + "/.added", "a") as f:
                f.write(path + "\n")
        return
    try:
        os.remove(path)
    except OSError:
        pass


def restore(keep):
    """Undo a switch(keep=keep): the files it added removed, the kept ones
    back in place (and the ROMFS partition written again from a kept
    image), keep removed. A cut restore is finished by calling it again."""
    try:
        with open(keep + "/.added") as f:
            added = [line.strip() for line in f if line.strip()]
    except OSError:
        added = []
    for p in added:
        try:
            os.remove(p)
        except OSError:
            pass
        _prune(p)
    try:
        os.remove(keep + "/.added")
    except OSError:
        pass
    back = []
    files(keep, back.append)
    rom = None
    for kept in back:
        target = kept[len(keep):]
        _makedirs(target)
        try:
            os.remove(target)
        except OSError:
            pass
        _rename(kept, target)
        if target.endswith(".img") and partition():
            rom = target
    if rom:
        _plan(["!" + rom])   # as a switch's: resume() writes it, from the filesystem when need be
    _rmtree(keep)
    resume()


def _prune(path):
    # Remove the folders a removal left empty.
    i = path.rfind("/")
    while i > 0:
        try:
            os.rmdir(path[:i])
        except OSError:
            return
        i = path.rfind("/", 0, i)


def _rmtree(top):
    try:
        entries = list(os.ilistdir(top))
    except OSError:
        return
    for e in entries:
        path = _join(top, e[0])
        if e[1] == _DIR:
            _rmtree(path)
        else:
            os.remove(path)
    os.rmdir(top)


def erase():
    """Remove every file on the flash (app, config, state); MicroPython stays."""
    found = []
    files("/", found.append)
    for p in found:
        os.remove(p)
        _prune(p)
    _rmtree(STAGE)
    return len(found)


def partition():
    """Size of the ROMFS partition 0 when the board has one (vfs.rom_ioctl),
    else 0."""
    try:
        import vfs
        if vfs.rom_ioctl(1) > 0:
            dev = vfs.rom_ioctl(2, 0)
            return dev.ioctl(4, 0) * dev.ioctl(5, 0) if hasattr(dev, "ioctl") else len(dev)
    except (ImportError, AttributeError, OSError):
        pass
    return 0


def rom_write(path):
    """Copy a staged ROMFS image into partition 0, on the board itself (no
    link to cut), with the ioctls `mpremote romfs deploy` uses."""
    import vfs
    size = os.stat(path)[6]
    try:
        vfs.umount("/rom")
    except OSError:
        pass
    # Erase as mpremote does: in pieces of up to 32 KB (whole blocks) when
    # the partition has blocks smaller than itself, else in one call.
    block = vfs.rom_ioctl(6, 0)
    if 0 < block < partition():
        offset = step = 0
        while offset < size:
            n = (min(size - offset, 32768) + block - 1) // block * block
            step = max(step, vfs.rom_ioctl(3, 0, offset, n))
            offset += n
    else:
        step = vfs.rom_ioctl(3, 0, size)
    step = max(4096, step)
    buf = bytearray(step)
    with open(path, "rb") as f:
        offset = 0
        while offset < size:
            n = f.readinto(buf)
            for i in range(n, step):
                buf[i] = 0
            vfs.rom_ioctl(4, 0, offset, buf)
            offset += n
    vfs.rom_ioctl(5, 0)


if __name__ == "neosensor_romwrite":   # imported by boot.py as HANDOFF
    finish()
