"""The NOOBS / PINN card: `noobs/` of a build.

    noobs/recovery.cmdline        NOOBS: unattended install of the card's OS
    noobs/cmdline.txt             PINN: unattended network install by name
    noobs/os/neOCampus/           os.json, partitions.json, flavours.json (one
                                  flavour per role), partition_setup.sh, the
                                  icon, marketing.tar, release_notes.txt, and
                                  the tarballs (`neoc image tarballs`)

The boot and recovery binaries come from `neoc image fetch-firmware`.

The OS is called "neOCampus", not "Raspbian": PINN's override.json replaces
the partition_setup.sh of an OS it knows by name (its "Raspbian" entry
brought a Bookworm roll-out down, PINN issue 793), and PINN compares only
the part of the name before " - " (the flavour), "=", "#" or "@".
"""
import json
import re

from noobs_image import firstboot, pictures

NAME = "neOCampus"
FOLDER = "os/" + NAME
# Names PINN's override.json (procount/pinn-os os/overrides.json) rewrites.
OVERRIDDEN = ("raspbian", "raspbian full", "raspbian lite", "raspberry pi os", "raspberry pi os full",
              "raspberry pi os lite", "raspios", "libreelec", "lakka", "recalboxos", "osmc")
SUPPORTED_MODELS = ["Pi 3", "Pi 4", "Pi 400", "Pi 5", "Pi 500", "Pi Zero 2", "Compute Module 4",
                    "Compute Module 5"]
BOOT_MB = 256
ROOT_MB = 4096   # before `neoc image tarballs` measures the root tree
NOOBS_BASE = "runinstaller quiet ramdisk_size=32768 root=/dev/ram0 init=/init vt.cur_default=1 elevator=deadline"
PINN_BASE = ("runinstaller quiet ramdisk_size=65536 root=/dev/ram0 init=/init vt.cur_default=1 elevator=deadline "
             "loglevel=2 sdhci.debug_quirks2=4")
ROLE_TEXT = {
    "sensors": "I2C sensors and GPIO inputs/outputs published to sensOCampus",
    "display": "a room screen: Chromium in kiosk mode on the agent's page",
    "concentrator": "serial and Modbus boards bridged to the broker",
}


def name_core(name):
    """The part PINN matches override.json against (recovery/util.cpp getNameParts)."""
    return re.split(r" - |[=#@]", name, maxsplit=1)[0]


def check_name(name):
    core = name_core(name).strip().lower()
    if core in OVERRIDDEN or core.startswith("raspbian"):
        raise ValueError("OS name %r: PINN's override.json replaces the partition_setup.sh of %r" % (name, core))
    return name


def flavour_name(role):
    return "%s - %s" % (NAME, role)


def urls(repo_url):
    base = "%s/noobs/%s" % (repo_url, FOLDER)
    return {"os_info": base + "/os.json", "partitions_info": base + "/partitions.json",
            "partition_setup": base + "/partition_setup.sh", "marketing_info": base + "/marketing.tar",
            "icon": base + "/%s.png" % NAME, "flavours": base + "/flavours.json",
            "tarballs": [base + "/boot.tar.xz", base + "/root.tar.xz"]}


def os_json(settings, release_date, version, repo_url):
    return {
        "name": check_name(NAME),
        "version": version,
        "description": "Raspberry Pi OS with the neOCampus agent (%s) from %s" % (settings.agent_ref,
                                                                                 settings.agent_git),
        "release_date": release_date,
        "bootable": True,
        "supported_models": SUPPORTED_MODELS,
        "username": settings.user,
        "url": repo_url,
        "group": "General",
        "use_partuuid": True,
        "supports_usb_boot": True,
        "supports_backup": True,
    }


def partitions_json(sizes=None):
    """sizes: {label: {"uncompressed_tarball_size": MB, "partition_size_nominal": MB, "sha256sum": hex}}
    from `neoc image tarballs`; before it, the nominal sizes only."""
    parts = [
        {"label": "boot", "filesystem_type": "FAT", "mkfs_options": "-F 32 -s 4",
         "partition_size_nominal": BOOT_MB, "want_maximised": False, "uncompressed_tarball_size": 0},
        {"label": "root", "filesystem_type": "ext4", "mkfs_options": "-O ^huge_file",
         "partition_size_nominal": ROOT_MB, "want_maximised": True, "uncompressed_tarball_size": 0},
    ]
    for p in parts:
        p.update((sizes or {}).get(p["label"], {}))
    return {"partitions": parts}


def flavours_json():
    return {"flavours": [{"name": flavour_name(role), "description": "neOCampus Pi, role %s: %s" % (role, text)}
                         for role, text in ROLE_TEXT.items()]}


def recovery_cmdline(repo_url):
    # NOOBS: silentinstall takes the card's own OS (NOOBS starts no network for it);
    # repo= is what a manual install (hold Shift) lists besides.
    return "%s silentinstall disablesafemode repo=%s/repo/os_list_v3.json\n" % (NOOBS_BASE, repo_url)


def pinn_cmdline(repo_url, role):
    return ('%s silentinstall select="%s,waitnetwork" repo_list=%s/repo/repo_list.json no_default_source '
            'no_update no_overrides networktimeout=120\n' % (PINN_BASE, flavour_name(role), repo_url))


def _heredoc(name, text):
    end = "NEOC_END_OF_%s" % re.sub(r"\W", "_", name).upper()
    assert ("\n%s\n" % end) not in text and text.endswith("\n")
    return "    put %s <<'%s'\n%s%s\n" % (name, end, text, end)


def partition_setup(settings, salt=""):
    """partition_setup.sh with this build's first-boot files inside."""
    files = firstboot.files(settings, salt)
    embedded = (
        "INSTANCE_ID=%s\n\n" % firstboot.instance_id(settings, salt)
        + "write_firstrun() {\n" + _heredoc("firstrun.sh", files["firstrun.sh"]) + "}\n\n"
        + "write_cloudinit() {\n" + "".join(_heredoc(n, files[n]) for n in ("user-data", "meta-data",
                                                                             "network-config")) + "}\n")
    text = firstboot.script_template("partition_setup.sh")
    marker = "# @EMBEDDED@\n"
    assert marker in text
    return text.replace(marker, embedded)


def release_notes(settings, release_date, version):
    return ("neOCampus Pi OS %s (%s)\n\n"
            "Raspberry Pi OS installed with the neOCampus agent from %s at %s.\n"
            "First boot: hostname %s, user %s (SSH key only), time zone %s, I2C and SPI on,\n"
            "the agent in /opt/neocampus, `neoc agent install` for the flavour's role, server %s.\n"
            "Log: neocampus-firstboot.log on the boot partition.\n"
            % (version, release_date, settings.agent_git, settings.agent_ref, settings.hostname_pattern,
               settings.user, settings.timezone, settings.server))


def files(settings, repo_url, release_date, version, salt=""):
    """{path under noobs/: bytes}."""
    def js(doc):
        return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
    f = FOLDER + "/"
    return {
        "recovery.cmdline": recovery_cmdline(repo_url).encode(),
        "cmdline.txt": pinn_cmdline(repo_url, settings.role).encode(),
        f + "os.json": js(os_json(settings, release_date, version, repo_url)),
        f + "partitions.json": js(partitions_json()),
        f + "flavours.json": js(flavours_json()),
        f + "partition_setup.sh": partition_setup(settings, salt).encode(),
        f + "release_notes.txt": release_notes(settings, release_date, version).encode(),
        f + NAME + ".png": pictures.icon(),
        f + "marketing.tar": pictures.marketing_tar(),
    }
