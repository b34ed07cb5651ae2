"""`imager/`: a Raspberry Pi Imager OS list with one entry per role, and the
images it points at.

Imager writes an image and, for its own customisation only, the first-boot
files; it cannot carry ours. So each entry is a Raspberry Pi OS image with
this build's first-boot files already in its FAT partition (customise.py),
one image per role and release: `init_format` `systemd` for Bookworm,
`cloudinit-rpi` for Trixie. Given `--base-image bookworm=FILE` and/or
`--base-image trixie=FILE` (Raspberry Pi OS .img, .img.xz or .img.gz), the
build makes them; the list gives their sizes and sha256 as Imager checks
them (a wrong extract_sha256 aborts the write).
"""
import gzip
import hashlib
import lzma
import os
import shutil
import subprocess
import tempfile

from noobs_image import card, customise

RELEASES = {"bookworm": "systemd", "trixie": "cloudinit-rpi"}
DEVICES = ["pi5-64bit", "pi4-64bit", "pi3-64bit"]
LIST_NAME = "os_list_imager.json"


class BaseImageError(RuntimeError):
    pass


def image_name(role, release):
    return "neocampus-%s-%s.img.xz" % (role, release)


def entry_name(role, release):
    return "neOCampus %s (%s)" % (role, release.capitalize())


def _open_base(path):
    if path.endswith(".xz"):
        return lzma.open(path, "rb")
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _compress(src, dest):
    """xz, on every core when the xz tool is there (a whole OS image takes minutes on one)."""
    tmp = dest + ".tmp"
    xz = shutil.which("xz")
    with open(tmp, "wb") as out:
        if xz:
            subprocess.run([xz, "-T0", "-6", "-c", src], stdout=out, check=True, stdin=subprocess.DEVNULL)
        else:
            with open(src, "rb") as f, lzma.open(out, "wb", preset=6) as z:
                shutil.copyfileobj(f, z, 1 << 20)
    os.replace(tmp, dest)


def decompress(base, folder):
    """The base image, uncompressed, as a temp file in folder (once per release, not per role)."""
    fd, raw = tempfile.mkstemp(suffix=".img", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, _open_base(base) as src:
            shutil.copyfileobj(src, out, 1 << 20)
    except (OSError, EOFError, lzma.LZMAError) as e:
        os.unlink(raw)
        raise BaseImageError("cannot read the base image %s: %s" % (base, e))
    return raw


def make_image(raw_base, dest, settings, init_format, mode=0o644, salt=""):
    """A copy of the uncompressed base image with the first-boot files,
    xz-compressed to dest. Returns the list fields that describe it."""
    folder = os.path.dirname(os.path.abspath(dest))
    fd, raw = tempfile.mkstemp(suffix=".img", dir=folder)
    os.close(fd)
    try:
        shutil.copyfile(raw_base, raw)
        os.chmod(raw, mode)
        customise.customise(raw, settings, init_format, salt)
        info = {"extract_size": os.path.getsize(raw), "extract_sha256": _sha256(raw)}
        _compress(raw, dest)
        os.chmod(dest, mode)
    finally:
        os.unlink(raw)
    info.update(image_download_size=os.path.getsize(dest), image_download_sha256=_sha256(dest))
    return info


def entry(role, release, info, repo_url, release_date):
    return {
        "name": entry_name(role, release),
        "description": "Raspberry Pi OS (%s) that installs the neOCampus agent on first boot, role %s: %s"
                       % (release.capitalize(), role, card.ROLE_TEXT[role]),
        "icon": "%s/noobs/%s/%s.png" % (repo_url, card.FOLDER, card.NAME),
        "url": "%s/imager/%s" % (repo_url, image_name(role, release)),
        "extract_size": info["extract_size"],
        "extract_sha256": info["extract_sha256"],
        "image_download_size": info["image_download_size"],
        "image_download_sha256": info["image_download_sha256"],
        "release_date": release_date,
        "init_format": RELEASES[release],
        "devices": DEVICES,
        "capabilities": ["i2c", "spi"],
        "architecture": "armv8",
    }


def os_list(entries, default_os):
    return {"imager": {"default_os": default_os, "url": "https://www.raspberrypi.com/software/"},
            "os_list": entries}
