"""The first-boot files, in the two forms Raspberry Pi OS reads them.

- `firstrun.sh` (Imager's `systemd` init format, Bookworm): the project's
  scripts/firstboot.sh with this build's settings written into it, run once
  through `systemd.run=` on the kernel command line.
- cloud-init NoCloud (`cloudinit-rpi`, Trixie): `user-data` installs the same
  script and runs it (`firstboot.sh all`), beside cloud-init's own keys for
  what cloud-init does itself (user, keys, time zone, the `rpi:` interfaces);
  `network-config` (netplan v2) carries the Wi-Fi; `meta-data` the instance id.

Either way the same script does the same steps (scripts/firstboot.sh says
which), so a Pi ends up the same whichever path installed it.
"""
import hashlib
import importlib.resources
import json
import uuid

import yaml

# What the agent needs from the OS before its venv (rpi_agent/README.md).
PACKAGES = ("git", "python3-venv", "python3-pip", "python3-dev", "i2c-tools")
SCRIPT_PATH = "/usr/local/lib/neocampus/firstboot.sh"
CONF_PATH = "/etc/neocampus/firstboot.conf"
# What Imager appends to cmdline.txt for each format (rpi-imager src/downloadthread.cpp).
SYSTEMD_CMDLINE = "systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target"
GROUPS = "users,adm,dialout,audio,netdev,video,plugdev,input,gpio,spi,i2c,sudo"


def script_template(name):
    return importlib.resources.files("noobs_image").joinpath("scripts", name).read_text()


def sh_quote(value):
    return "'" + value.replace("'", "'\\''") + "'"


def wifi_uuid(ssid):
    """NetworkManager wants a connection UUID: a fixed one per SSID keeps reruns unchanged."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "neocampus-wifi:" + ssid))


def variables(settings, with_wifi=True):
    """The NEOC_* settings of scripts/firstboot.sh, in order."""
    wifi = settings.wifi if with_wifi else None
    return [
        ("NEOC_ROLE", settings.role),
        ("NEOC_AGENT_GIT", settings.agent_git),
        ("NEOC_AGENT_REF", settings.agent_ref),
        ("NEOC_SERVER", settings.server),
        ("NEOC_USER", settings.user),
        ("NEOC_HOSTNAME_PATTERN", settings.hostname_pattern),
        ("NEOC_TIMEZONE", settings.timezone),
        ("NEOC_WIFI_COUNTRY", settings.wifi_country),
        ("NEOC_WIFI_SSID", wifi.ssid if wifi else ""),
        ("NEOC_WIFI_PSK", wifi.psk if wifi else ""),
        ("NEOC_WIFI_UUID", wifi_uuid(wifi.ssid) if wifi else ""),
        ("NEOC_SSH_KEYS", "\n".join(settings.ssh_keys)),
        ("NEOC_PACKAGES", " ".join(PACKAGES)),
        # no trailing newline: the script's copy in firstboot.conf must read back the same
        ("NEOC_AGENT_CONFIG", settings.agent_config.rstrip("\n")),
    ]


def settings_block(settings, with_wifi=True):
    return "".join("%s=%s\n" % (k, sh_quote(v)) for k, v in variables(settings, with_wifi))


def firstrun_sh(settings):
    """firstrun.sh: the script with the settings inside (it deletes itself once run)."""
    marker = "# @NEOC_SETTINGS@\n"
    text = script_template("firstboot.sh")
    assert marker in text
    return text.replace(marker, marker + settings_block(settings))


def plain_script():
    """The script without settings (it reads /etc/neocampus/firstboot.conf)."""
    return script_template("firstboot.sh")


def instance_id(settings, salt=""):
    """One id per build and role: cloud-init runs its per-instance steps once for it."""
    digest = hashlib.sha256(json.dumps([settings.role, settings.agent_git, settings.agent_ref, settings.server,
                                        salt]).encode()).hexdigest()
    return "neocampus-%s-%s" % (settings.role, digest[:12])


class _Literal(str):
    """A multi-line string YAML writes as a `|` block (readable, no escapes)."""


def _literal(dumper, data):
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def _yaml(data):
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)


def user_data(settings):
    """#cloud-config for the NoCloud seed; the Wi-Fi is in network-config, not here."""
    conf = settings_block(settings, with_wifi=False)
    doc = {
        # the script names the Pi after its MAC; cloud-init must not rename it back
        "preserve_hostname": True,
        "timezone": settings.timezone,
        "user": {"name": settings.user, "shell": "/bin/bash", "groups": GROUPS, "lock_passwd": True,
                 "sudo": "ALL=(ALL) NOPASSWD:ALL", "ssh_authorized_keys": list(settings.ssh_keys)},
        "ssh_pwauth": False,
        "rpi": {"interfaces": {"i2c": True, "spi": True}},
        "write_files": [
            {"path": CONF_PATH, "owner": "root:root", "permissions": "0600", "content": _Literal(conf)},
            {"path": SCRIPT_PATH, "owner": "root:root", "permissions": "0755", "content": _Literal(plain_script())},
        ],
        "runcmd": [
            # SSH first: the rest may fail, the Pi stays reachable
            ["systemctl", "enable", "--now", "ssh"],
            [SCRIPT_PATH, "all"],
        ],
    }
    return "#cloud-config\n" + _yaml(doc)


def meta_data(settings, salt=""):
    return "instance-id: %s\n" % instance_id(settings, salt)


def network_config(settings):
    """netplan v2: the wired port as it was, and the Wi-Fi with its PSK (not the passphrase)."""
    net = {"version": 2, "ethernets": {"eth0": {"dhcp4": True, "dhcp6": True, "optional": True}}}
    wifi = settings.wifi
    if wifi:
        ap = {"password": wifi.psk} if wifi.psk else {"auth": {"key-management": "none"}}
        net["wifis"] = {"wlan0": {"dhcp4": True, "regulatory-domain": settings.wifi_country,
                                  "access-points": {wifi.ssid: ap}, "optional": True}}
    return _yaml({"network": net})


def cloudinit_cmdline(settings, salt=""):
    return "ds=nocloud;i=%s" % instance_id(settings, salt)


def files(settings, salt=""):
    """{name on the boot partition: text} for both init formats."""
    return {
        "firstrun.sh": firstrun_sh(settings),
        "user-data": user_data(settings),
        "meta-data": meta_data(settings, salt),
        "network-config": network_config(settings),
    }


# Files that hold the Wi-Fi PSK when there is one: written 0600 on the build machine.
SECRET_FILES = ("firstrun.sh", "network-config", "partition_setup.sh")
