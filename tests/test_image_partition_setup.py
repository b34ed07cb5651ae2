"""partition_setup.sh as NOOBS and PINN run it: busybox `sh`, the argument and
environment contract (`part1=... id1=... part2=... id2=...`, PATH only), the
working directory the new boot partition. Two directories stand for the
freshly extracted boot and root partitions (no loop devices here): `mount`,
`umount` and `findfs` are fakes that link the root directory in place and
record what they were asked; everything else is busybox."""
import hashlib
import os
import shutil
import subprocess

import pytest

from harness import need
from noobs_image import card, firstboot, settings
from support.image_helpers import CMDLINE, CONFIG, PASSPHRASE, SSID, ssh_key

APPLETS = ("sh", "awk", "sed", "grep", "cat", "cmp", "mktemp", "mkdir", "mv", "rm", "rmdir", "ln", "chmod",
           "touch", "head", "cut", "tr", "date", "dirname", "readlink", "echo")
BOOKWORM_FSTAB = """proc            /proc           proc    defaults          0       0
PARTUUID=4e639091-01  /boot/firmware  vfat    defaults          0       2
PARTUUID=4e639091-02  /               ext4    defaults,noatime  0       1
# a swap file is managed by dphys-swapfile
"""
LEGACY_FSTAB = BOOKWORM_FSTAB.replace("/boot/firmware", "/boot          ")


@pytest.fixture
def busybox():
    path = shutil.which("busybox") or need("busybox is not installed: sudo apt-get install busybox")
    return path


@pytest.fixture
def the_settings(tmp_path):
    return settings.build(role="sensors", agent_git="https://git.example.org/devkit.git@v2",
                          ssh_key=str(ssh_key(tmp_path / "k.pub")), wifi=(SSID, PASSPHRASE))


def make_bin(tmp_path, busybox, root):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for a in APPLETS:
        (bindir / a).symlink_to(busybox)
    calls = tmp_path / "calls.log"
    fakes = {
        "mount": """case $1 in /dev/mmcblk0p6|/dev/sda6) ;; *) echo "mount: no $1" >&2; exit 32 ;; esac
rmdir "$2" && ln -s {root} "$2" """,
        "umount": 'rm -f "$1"',
        "findfs": 'case $1 in PARTUUID=2a1b3c4d-06) echo /dev/sda6 ;; *) exit 1 ;; esac',
    }
    for name, body in fakes.items():
        f = bindir / name
        f.write_text("#!%s sh\necho \"%s $*\" >>%s\n%s\n" % (busybox, name, calls, body.format(root=root)))
        f.chmod(0o755)
    return bindir, calls


def snapshot(*dirs):
    out = {}
    for d in dirs:
        for dirpath, dirnames, filenames in os.walk(d):
            for n in sorted(filenames + dirnames):
                p = os.path.join(dirpath, n)
                st = os.lstat(p)
                data = open(p, "rb").read() if os.path.isfile(p) and not os.path.islink(p) else b""
                out[p] = (st.st_mode, hashlib.sha256(data).hexdigest())
    return out


def run_setup(busybox, script, boot, bindir, part1, part2, extra_env=None):
    args = {"part1": part1, "id1": "LABEL=boot", "part2": part2, "id2": "LABEL=root"}
    env = dict(args, PATH=str(bindir), **(extra_env or {}))
    return subprocess.run([busybox, "sh", str(script)] + ["%s=%s" % kv for kv in args.items()], cwd=boot, env=env,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("fstab, boot_mount, part1, part2", [
    (BOOKWORM_FSTAB, "/boot/firmware", "/dev/mmcblk0p5", "/dev/mmcblk0p6"),
    (LEGACY_FSTAB, "/boot", "/dev/mmcblk0p5", "/dev/mmcblk0p6"),
    (BOOKWORM_FSTAB, "/boot/firmware", "PARTUUID=2a1b3c4d-05", "PARTUUID=2a1b3c4d-06"),
], ids=["bookworm-devices", "legacy-boot-devices", "bookworm-partuuid"])
def test_partition_setup_points_the_new_os_at_its_partitions(tmp_path, busybox, the_settings, fstab, boot_mount,
                                                               part1, part2):
    boot, root = tmp_path / "boot", tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    boot.mkdir()
    (boot / "cmdline.txt").write_text(CMDLINE)
    (boot / "config.txt").write_text(CONFIG)
    (root / "etc/fstab").write_text(fstab)
    script = tmp_path / "partition_setup.sh"
    script.write_text(card.partition_setup(the_settings, "salt"))
    bindir, calls = make_bin(tmp_path, busybox, root)

    r = run_setup(busybox, script, boot, bindir, part1, part2)
    assert r.returncode == 0, r.stdout + r.stderr
    cmdline = (boot / "cmdline.txt").read_text()
    assert cmdline.count("\n") == 1 and cmdline.count("root=") == 1
    assert " root=%s " % part2 in cmdline
    assert cmdline.rstrip().endswith(" " + firstboot.SYSTEMD_CMDLINE)
    lines = [l.split() for l in (root / "etc/fstab").read_text().splitlines() if l and not l.startswith("#")]
    assert [part1, boot_mount, "vfat", "defaults", "0", "2"] in lines
    assert [part2, "/", "ext4", "defaults,noatime", "0", "1"] in lines
    assert ["proc", "/proc", "proc", "defaults", "0", "0"] in lines
    assert "# a swap file is managed by dphys-swapfile" in (root / "etc/fstab").read_text()
    assert (boot / "firstrun.sh").read_text() == firstboot.firstrun_sh(the_settings)
    assert (boot / "ssh").exists()
    assert "mount /dev/" in calls.read_text() and "umount " in calls.read_text()
    assert not (root / "tmp").exists() and not os.path.islink(calls.read_text().split()[-1])

    before = snapshot(boot, root)
    r = run_setup(busybox, script, boot, bindir, part1, part2)
    assert r.returncode == 0, r.stderr
    assert snapshot(boot, root) == before, "a second run changed something"


def test_a_root_with_cloud_init_gets_the_nocloud_seed(tmp_path, busybox, the_settings):
    boot, root = tmp_path / "boot", tmp_path / "root"
    for d in ("etc/cloud", "usr/bin"):
        (root / d).mkdir(parents=True)
    (root / "usr/bin/cloud-init").write_text("#!/bin/sh\n")
    (root / "usr/bin/cloud-init").chmod(0o755)
    boot.mkdir()
    (boot / "cmdline.txt").write_text(CMDLINE)
    (root / "etc/fstab").write_text(BOOKWORM_FSTAB)
    script = tmp_path / "partition_setup.sh"
    script.write_text(card.partition_setup(the_settings, "salt"))
    bindir, _ = make_bin(tmp_path, busybox, root)
    r = run_setup(busybox, script, boot, bindir, "/dev/mmcblk0p5", "/dev/mmcblk0p6")
    assert r.returncode == 0, r.stderr
    files = firstboot.files(the_settings, "salt")
    for name in ("user-data", "meta-data", "network-config"):
        assert (boot / name).read_text() == files[name]
    assert not (boot / "firstrun.sh").exists()
    assert (boot / "cmdline.txt").read_text().rstrip().endswith(" " + firstboot.cloudinit_cmdline(the_settings, "salt"))


def test_a_restored_backup_gets_its_partitions_but_no_first_boot(tmp_path, busybox, the_settings):
    boot, root = tmp_path / "boot", tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    boot.mkdir()
    (boot / "cmdline.txt").write_text(CMDLINE)
    (root / "etc/fstab").write_text(BOOKWORM_FSTAB)
    script = tmp_path / "partition_setup.sh"
    script.write_text(card.partition_setup(the_settings))
    bindir, _ = make_bin(tmp_path, busybox, root)
    r = run_setup(busybox, script, boot, bindir, "/dev/mmcblk0p5", "/dev/mmcblk0p6", {"restore": "true"})
    assert r.returncode == 0, r.stderr
    assert "root=/dev/mmcblk0p6" in (boot / "cmdline.txt").read_text()
    assert not (boot / "firstrun.sh").exists() and "systemd.run" not in (boot / "cmdline.txt").read_text()


def test_a_root_that_will_not_mount_fails_the_install(tmp_path, busybox, the_settings):
    boot, root = tmp_path / "boot", tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    boot.mkdir()
    (boot / "cmdline.txt").write_text(CMDLINE)
    script = tmp_path / "partition_setup.sh"
    script.write_text(card.partition_setup(the_settings))
    bindir, _ = make_bin(tmp_path, busybox, root)
    r = run_setup(busybox, script, boot, bindir, "/dev/mmcblk0p5", "/dev/mmcblk0p9")
    assert r.returncode != 0 and "cannot mount /dev/mmcblk0p9" in r.stderr
    assert (boot / "cmdline.txt").read_text() == CMDLINE
