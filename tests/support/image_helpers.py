"""Small Raspberry Pi OS look-alikes for the image tests: a disk image with an
MBR and a FAT boot partition (mkfs.vfat), and the build options they share."""
import os
import shutil
import struct
import subprocess

from harness import need

SBIN = os.pathsep.join(("/usr/sbin", "/sbin"))
CMDLINE = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait\n"
CONFIG = "[all]\n#dtparam=i2c_arm=on\n#dtparam=spi=on\n"
PASSPHRASE = "not-the-real-one-42"
SSID = "campus-iot"


def tool(name):
    path = shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + SBIN)
    if path is None:
        need("%s is not installed: sudo apt-get install %s (make test does it as root)" % (
            name, {"mkfs.vfat": "dosfstools", "mcopy": "mtools", "mdir": "mtools"}.get(name, name)))
    return path


def fat_image(path, with_mbr=True, files=None):
    """A 16 MiB disk image (MBR, FAT at 4 MiB) or a bare 8 MiB FAT, with cmdline.txt and config.txt."""
    files = {"cmdline.txt": CMDLINE, "config.txt": CONFIG} if files is None else files
    offset = 8192 if with_mbr else 0
    with open(path, "wb") as f:
        f.truncate((16 if with_mbr else 8) * 1024 * 1024)
        if with_mbr:
            mbr = bytearray(512)
            mbr[0x1BE:0x1CE] = bytes([0, 0, 0, 0, 0x0C, 0, 0, 0]) + struct.pack("<II", 8192, 16384)
            mbr[0x1CE:0x1DE] = bytes([0, 0, 0, 0, 0x83, 0, 0, 0]) + struct.pack("<II", 24576, 8192)
            mbr[510:512] = b"\x55\xaa"
            f.write(mbr)
    cmd = [tool("mkfs.vfat"), "-n", "BOOTFS"]
    if with_mbr:
        cmd += ["--offset", str(offset)]
    subprocess.run(cmd + [str(path), "8192"], check=True, capture_output=True)
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    for name, text in files.items():
        subprocess.run([tool("mcopy"), "-i", "%s@@%d" % (path, offset * 512), "-", "::/" + name],
                       input=text.encode(), check=True, env=env, capture_output=True)
    return path


def ssh_key(path):
    """An ed25519 public key line (fixed bytes: no ssh-keygen needed)."""
    import base64
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + bytes(range(32))
    path.write_text("ssh-ed25519 %s lab@neocampus\n" % base64.b64encode(blob).decode())
    return path
