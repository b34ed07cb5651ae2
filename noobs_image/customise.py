"""`neoc image customise IMG`: this build's first-boot files into an existing
Raspberry Pi OS image, as Imager writes them, for people who flash with dd
or with Imager without our list.

- init format `systemd` (Bookworm): `firstrun.sh`, and cmdline.txt gets
  ` systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot
  systemd.unit=kernel-command-line.target`;
- `cloudinit-rpi` (Trixie): `user-data`, `meta-data`, `network-config`, and
  cmdline.txt gets ` ds=nocloud;i=<instance-id>`.

Running it twice leaves the image as the first run made it.
"""
from noobs_image import fatimage, firstboot

INIT_FORMATS = ("systemd", "cloudinit-rpi")


def boot_files(settings, init_format, salt=""):
    """({name: text}, cmdline option) for one init format."""
    files = firstboot.files(settings, salt)
    if init_format == "systemd":
        return {"firstrun.sh": files["firstrun.sh"]}, firstboot.SYSTEMD_CMDLINE
    if init_format == "cloudinit-rpi":
        return ({n: files[n] for n in ("user-data", "meta-data", "network-config")},
                firstboot.cloudinit_cmdline(settings, salt))
    raise ValueError("init format %r: want one of %s" % (init_format, ", ".join(INIT_FORMATS)))


def with_option(cmdline, option):
    """cmdline.txt (one line) with `option` appended once."""
    line = cmdline.strip()
    if option in line.split(" ") or (" " + option) in (" " + line):
        return line + "\n"
    return line + " " + option + "\n"


def customise(image, settings, init_format, salt=""):
    """Returns the names written (the files that changed)."""
    cmdline = fatimage.read(image, "cmdline.txt")
    if cmdline is None:
        raise fatimage.ImageError("%s: no cmdline.txt in its FAT partition (not a Raspberry Pi OS image?)" % image)
    files, option = boot_files(settings, init_format, salt)
    changed = []
    for name, text in files.items():
        data = text.encode()
        if fatimage.read(image, name) != data:
            fatimage.write(image, name, data)
            changed.append(name)
    new = with_option(cmdline.decode(), option).encode()
    if new != cmdline:
        fatimage.write(image, "cmdline.txt", new)
        changed.append("cmdline.txt")
    return changed
