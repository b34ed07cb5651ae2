"""`neoc image fetch-firmware`: the card's boot and recovery binaries.

They are Raspberry Pi's and PINN's, downloaded on a machine with Internet
access, never stored in the repository. What is checked: the sha256 when
one is given (--sha256, from the release page), that the zip is whole (every
member's CRC), that it holds the recovery files a card boots from, and that
no member would land outside the card. The files then go into the build's
noobs/ beside ours: the card's own recovery.cmdline / cmdline.txt and os/
are kept, and FIRMWARE.txt records the URL and sha256 of what was used.
"""
import hashlib
import os
import posixpath
import zipfile

import requests

SOURCES = {
    # PINN lite: network install only; the Pi 5 boots it (3.9.x)
    "pinn": "https://sourceforge.net/projects/pinn/files/pinn-lite.zip/download",
    # NOOBS lite 3.8 (2022, no Pi 5)
    "noobs": "https://downloads.raspberrypi.org/NOOBS_lite_latest",
}
REQUIRED = ("recovery.elf", "recovery.rfs", "RECOVERY_FILES_DO_NOT_EDIT")
OURS = ("recovery.cmdline", "cmdline.txt")
TIMEOUT = 30


class FirmwareError(RuntimeError):
    pass


def download(url, dest, progress=None):
    """url -> dest (a temp file renamed at the end); returns its sha256."""
    h = hashlib.sha256()
    tmp = dest + ".part"
    try:
        with requests.get(url, stream=True, timeout=TIMEOUT) as r:
            if r.status_code != 200:
                raise FirmwareError("%s: HTTP %d %s" % (url, r.status_code, r.reason))
            total = int(r.headers.get("Content-Length") or 0)
            with open(tmp, "wb") as f:
                for block in r.iter_content(1 << 16):
                    f.write(block)
                    h.update(block)
                    if progress:
                        progress(len(block), total)
    except requests.RequestException as e:
        raise FirmwareError("cannot download %s: %s" % (url, e))
    os.replace(tmp, dest)
    return h.hexdigest()


def check_zip(path):
    """The member names, once the zip is known whole and a card's recovery."""
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
            if bad is not None:
                raise FirmwareError("%s: member %s is corrupt (CRC)" % (path, bad))
            names = z.namelist()
    except zipfile.BadZipFile as e:
        raise FirmwareError("%s is not a zip file (%s): did the server send an error page?" % (path, e))
    for n in names:
        norm = posixpath.normpath(n)
        if n.startswith("/") or norm == ".." or norm.startswith("../"):
            raise FirmwareError("%s: member %r would land outside the card" % (path, n))
    missing = [r for r in REQUIRED if r not in names]
    if not any(posixpath.basename(n).startswith("recovery") and n.endswith(".img") for n in names):
        missing.append("recovery*.img")
    if missing:
        raise FirmwareError("%s lacks %s: not a NOOBS/PINN recovery zip" % (path, ", ".join(missing)))
    return names


def fetch(out, kind="pinn", url=None, sha256=None, progress=None, say=print):
    url = url or SOURCES[kind]
    folder = os.path.join(out, "firmware")
    os.makedirs(folder, exist_ok=True)
    zpath = os.path.join(folder, "%s.zip" % kind)
    say("downloading %s" % url)
    got = download(url, zpath, progress)
    if sha256 and got != sha256.lower():
        os.unlink(zpath)
        raise FirmwareError("%s: sha256 is %s, want %s (download removed)" % (url, got, sha256.lower()))
    names = check_zip(zpath)
    card = os.path.join(out, "noobs")
    kept = []
    with zipfile.ZipFile(zpath) as z:
        for n in names:
            if n.endswith("/"):
                continue
            if n in OURS and os.path.exists(os.path.join(card, n)):
                kept.append(n)
                continue
            if n.startswith("os/"):
                continue
            z.extract(n, card)
    with open(os.path.join(card, "FIRMWARE.txt"), "w") as f:
        f.write("%s\nsha256 %s\n%s\n" % (url, got, "verified against --sha256" if sha256 else
                                          "not verified against a published sum (give --sha256)"))
    say("%s: sha256 %s%s" % (zpath, got, " (as given)" if sha256 else ""))
    if kept:
        say("kept the build's own %s" % ", ".join(kept))
    return {"zip": zpath, "sha256": got, "files": [n for n in names if not n.endswith("/")]}
