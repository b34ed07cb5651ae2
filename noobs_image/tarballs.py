"""`neoc image tarballs --rootfs DIR`: a prepared boot and root tree packed as
the `boot.tar.xz` and `root.tar.xz` the card's metadata points at, and the
metadata filled in: `uncompressed_tarball_size`, `partition_size_nominal`,
PINN's `sha256sum` (of the compressed file, as PINN checks it while
downloading), and the network list's `nominal_size`.

DIR holds `boot/` (the FAT partition's files) and `root/` (the root file
system, owners and modes as they must be on the Pi: prepare it as root, with
pi-gen or debootstrap).
"""
import hashlib
import json
import math
import os
import shutil
import subprocess
import tarfile

from noobs_image import card, schemas

MB = 1024 * 1024
LABELS = ("boot", "root")


class TarballError(RuntimeError):
    pass


class _Counting:
    """A write-only file that counts what goes through it."""

    def __init__(self, f):
        self.f, self.n = f, 0

    def write(self, data):
        self.n += len(data)
        return self.f.write(data)


def pack(tree, dest):
    """tree -> dest (.tar.xz); returns the uncompressed size in bytes."""
    tmp = dest + ".tmp"
    xz = shutil.which("xz")
    with open(tmp, "wb") as out:
        if xz:
            proc = subprocess.Popen([xz, "-T0", "-6", "-c"], stdin=subprocess.PIPE, stdout=out)
            sink = _Counting(proc.stdin)
            with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                tar.add(tree, arcname=".")
            proc.stdin.close()
            if proc.wait():
                raise TarballError("xz failed on %s" % tree)
        else:
            import lzma
            with lzma.open(out, "wb") as z:
                sink = _Counting(z)
                with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    tar.add(tree, arcname=".")
    os.replace(tmp, dest)
    return sink.n


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def nominal(label, uncompressed_mb):
    if label == "boot":
        return max(card.BOOT_MB, math.ceil(uncompressed_mb * 1.2))
    # room for what the first boot installs (packages, the agent's venv)
    return math.ceil(uncompressed_mb * 1.25) + 512


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _save(path, doc, schema):
    schemas.check(doc, schema, path)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def tarballs(rootfs, out, say=print):
    """Pack rootfs/boot and rootfs/root into the build at `out`; update its metadata."""
    folder = os.path.join(out, "noobs", card.FOLDER)
    parts_path = os.path.join(folder, "partitions.json")
    list_path = os.path.join(out, "repo", "os_list_v3.json")
    if not os.path.exists(parts_path) or not os.path.exists(list_path):
        raise TarballError("%s is not a build (no noobs/%s/partitions.json or repo/os_list_v3.json): run "
                           "`neoc image build --out %s ...` first" % (out, card.FOLDER, out))
    for label in LABELS:
        tree = os.path.join(rootfs, label)
        if not os.path.isdir(tree):
            raise TarballError("--rootfs %s: no %s/ in it (want %s/boot and %s/root)" % (rootfs, label, rootfs, rootfs))
    partitions = _load(parts_path)
    sizes = {}
    for label in LABELS:
        dest = os.path.join(folder, label + ".tar.xz")
        say("packing %s/ into %s" % (os.path.join(rootfs, label), dest))
        n = pack(os.path.join(rootfs, label), dest)
        mb = max(1, math.ceil(n / MB))
        sizes[label] = {"uncompressed_tarball_size": mb, "partition_size_nominal": nominal(label, mb),
                        "sha256sum": sha256(dest)}
        say("  %s: %d MB uncompressed, %d bytes packed" % (label, mb, os.path.getsize(dest)))
    for p in partitions["partitions"]:
        p.update(sizes.get(p["label"], {}))
    _save(parts_path, partitions, "partitions.schema.json")
    oslist = _load(list_path)
    for e in oslist["os_list"]:
        if e["os_name"] == card.NAME:
            e["nominal_size"] = sum(p["partition_size_nominal"] for p in partitions["partitions"])
    _save(list_path, oslist, "os_list_v3.schema.json")
    return sizes



