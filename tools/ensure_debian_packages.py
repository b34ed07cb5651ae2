"""Make sure the Debian packages the tests drive for real are installed.

As root it installs what is missing with apt-get; otherwise it prints the
command to run and goes on (the tests that need a missing package skip with
the same advice, except in CI where they fail).
"""
import os
import shutil
import subprocess
import sys

# command on PATH -> Debian package that provides it
NEEDED = {
    "mosquitto": "mosquitto",
    "mosquitto_passwd": "mosquitto",
    "socat": "socat",
    "chromium": "chromium",
    "busybox": "busybox",
    "shellcheck": "shellcheck",
    # The Pi agent's unit files are checked with it (tests/test_agent_install.py).
    "systemd-analyze": "systemd",
    # Pi images (tests/test_image_*.py): FAT images without root, the
    # cloud-init and netplan checks of the first-boot files.
    "mcopy": "mtools",
    "mkfs.vfat": "dosfstools",
    "cloud-init": "cloud-init",
    "netplan": "netplan.io",
}
SBIN = ("/usr/sbin", "/sbin")


def missing_packages():
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(SBIN)
    return sorted({pkg for cmd, pkg in NEEDED.items() if shutil.which(cmd, path=path) is None})


def main():
    missing = missing_packages()
    if not missing:
        return 0
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        print("missing Debian packages: %s\n  install them with: sudo %s" % (" ".join(missing), " ".join(cmd)))
        return 0
    print("installing Debian packages: " + " ".join(missing), flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(cmd, check=True, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
