"""`neoc image`: Pi install media (noobs_image/README.md).

    neoc image build --out DIR --repo-url URL --agent-git URL[@REF] --role ROLE ...
    neoc image tarballs --rootfs DIR --out DIR
    neoc image customise IMG --role ROLE --agent-git URL[@REF] ...
    neoc image fetch-firmware --out DIR [--kind pinn|noobs]

A bad value is one line naming the option and the value, and nothing is
written; a Wi-Fi password is never printed (its PSK goes into the files).
"""
import functools
import os
import sys

import click

from noobs_image import settings as settings_mod

ROLE_HELP = "The agent's role on these Pis: %s." % ", ".join(settings_mod.ROLES)


def wifi_value(value):
    """--wifi SSID[:PASSWORD]: the password from the option, else
    NEOC_WIFI_PASSWORD, else a prompt on a terminal (never echoed).
    "SSID:" is an open network."""
    if value is None:
        return None
    ssid, sep, password = value.partition(":")
    if sep:
        return ssid, password
    if os.environ.get("NEOC_WIFI_PASSWORD") is not None:
        return ssid, os.environ["NEOC_WIFI_PASSWORD"]
    if sys.stdin.isatty():
        return ssid, click.prompt("Wi-Fi password for %s" % ssid, hide_input=True, default="", show_default=False)
    raise click.UsageError("no Wi-Fi password for %s: give --wifi SSID:PASSWORD, set NEOC_WIFI_PASSWORD, or write "
                           "--wifi %s: for an open network" % (ssid, ssid))


def settings_options(f):
    """The options that say what a Pi becomes (build and customise share them)."""
    options = [
        click.option("--role", required=True, type=click.Choice(settings_mod.ROLES), help=ROLE_HELP),
        click.option("--agent-git", required=True, metavar="URL[@REF]",
                     help="Git repository of the agent (this project) and the branch, tag or commit to install "
                          "(default ref: main); cloned into /opt/neocampus on the Pi."),
        click.option("--server", default=settings_mod.DEFAULT_SERVER, show_default=True, metavar="URL",
                     help="sensOCampus server the agent registers with (written to /etc/neocampus/agent.toml)."),
        click.option("--user", default="pi", show_default=True,
                     help="Login user on the Pi: SSH key only, no password, sudo without one."),
        click.option("--ssh-key", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Public key(s) allowed to log in (authorized_keys format). Default: ~/.ssh/id_ed25519.pub, "
                          "id_ecdsa.pub or id_rsa.pub."),
        click.option("--hostname-pattern", default=settings_mod.DEFAULT_PATTERN, show_default=True,
                     help="Hostname of each Pi from its MAC (eth0, else wlan0): {mac4}, {mac6} or {mac} are its "
                          "last 4, 6 or all 12 hex digits."),
        click.option("--timezone", default="Europe/Paris", show_default=True, help="Time zone of the Pis."),
        click.option("--wifi-country", default="FR", show_default=True, metavar="CC",
                     help="Wi-Fi regulatory country (ISO 3166, capitals)."),
        click.option("--wifi", metavar="SSID[:PASSWORD]",
                     help="Wi-Fi network to join. The password also from NEOC_WIFI_PASSWORD or a prompt; only "
                          "its WPA PSK is written, never the password. 'SSID:' is an open network."),
        click.option("--serial", "serial", multiple=True, metavar="PORT[:BAUD]",
                     help="A concentrator's serial line (a board speaking JSON lines), e.g. /dev/ttyUSB0:115200 "
                          "(default 9600 baud); repeatable. Goes into agent.toml as [[concentrator.serial]]."),
        click.option("--agent-config", type=click.Path(dir_okay=False), metavar="FILE",
                     help="TOML fragment of the agent's config (rpi_agent/README.md: [[concentrator.modbus]] "
                          "devices, [mqtt], [display] rooms...) merged into every Pi's agent.toml; checked now by "
                          "the agent's own parser. Not agent.roles, server or mac: the options set those."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def make_settings(role, agent_git, server, user, ssh_key, hostname_pattern, timezone, wifi_country, wifi, serial,
                  agent_config):
    try:
        return settings_mod.build(role=role, agent_git=agent_git, server=server, user=user, ssh_key=ssh_key,
                                  hostname_pattern=hostname_pattern, timezone=timezone, wifi_country=wifi_country,
                                  wifi=wifi_value(wifi), agent_config=agent_config, serial=serial)
    except settings_mod.SettingError as e:
        raise click.UsageError(str(e))


def say_agent_notes(settings):
    """What the installed agent will say about its config (a concentrator with no line), said now."""
    for note in settings_mod.agent_notes(settings, settings.role):
        click.echo("note: the agent of these Pis will say: %s (give --serial PORT[:BAUD] or --agent-config FILE to "
                   "set it in the image)" % note, err=True)


def failures(*kinds):
    """Known failures -> one line on stderr and exit 1, no traceback."""
    def wrap(f):
        @functools.wraps(f)
        def run(*args, **kwargs):
            try:
                return f(*args, **kwargs)
            except settings_mod.SettingError as e:
                raise click.UsageError(str(e))
            except kinds as e:
                raise click.ClickException(str(e))
            except OSError as e:
                raise click.ClickException("%s: %s" % (e.filename, e.strerror) if e.filename else str(e))
        return run
    return wrap


def _errors():
    from noobs_image import build, fatimage, firmware, imager, schemas, tarballs
    return (build.BuildError, fatimage.ImageError, firmware.FirmwareError, imager.BaseImageError,
            schemas.SchemaError, tarballs.TarballError)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def image():
    """Install media for neOCampus Raspberry Pis: the NOOBS/PINN card with its
    network-install lists, a Raspberry Pi Imager list, and the first-boot files
    that install the agent (`neoc agent install`). See noobs_image/README.md."""


@image.command()
@click.option("--out", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Build directory (created): noobs/, repo/, imager/. Serve it as is at --repo-url.")
@click.option("--repo-url", required=True, metavar="URL",
              help="http(s) URL the build directory is served at; the network-install lists point under it.")
@settings_options
@click.option("--base-image", "base_images", multiple=True, metavar="RELEASE=FILE",
              help="Raspberry Pi OS image (.img, .img.xz, .img.gz) to make Imager's per-role images from; RELEASE is "
                   "bookworm (init format systemd) or trixie (cloudinit-rpi). Repeatable.")
@click.option("--rootfs", type=click.Path(file_okay=False, exists=True), metavar="DIR",
              help="Also pack DIR/boot and DIR/root into the card's tarballs (as `neoc image tarballs`).")
def build(out, repo_url, base_images, rootfs, **opts):
    """Build the NOOBS/PINN card, the network-install lists and the Imager list.

    Every value is checked before anything is written. Files holding the Wi-Fi
    PSK (firstrun.sh, network-config, partition_setup.sh, the images) are mode
    0600.
    """
    from noobs_image import build as build_mod
    images = {}
    for item in base_images:
        release, sep, path = item.partition("=")
        if not sep or not path:
            raise click.UsageError("--base-image %r: want RELEASE=FILE (bookworm=... or trixie=...)" % item)
        images[release] = path
    settings = make_settings(**opts)

    @failures(*_errors())
    def run():
        return build_mod.build(out, settings, repo_url, images, rootfs, say=lambda m: click.echo(m, err=True))
    written = run()
    click.echo("%d files in %s (noobs/, repo/, imager/)" % (len(written), out))
    if settings.wifi and settings.wifi.psk:
        click.echo("the Wi-Fi PSK is in firstrun.sh, network-config, partition_setup.sh and the images (mode 0600)")
    say_agent_notes(settings)
    if not rootfs:
        click.echo("next: neoc image tarballs --rootfs DIR --out %s (the card's boot/root tarballs)" % out)


@image.command()
@click.option("--rootfs", required=True, type=click.Path(file_okay=False, exists=True), metavar="DIR",
              help="Prepared tree: DIR/boot (the FAT partition's files) and DIR/root (the root file system).")
@click.option("--out", required=True, type=click.Path(file_okay=False, exists=True), metavar="DIR",
              help="A build directory made by `neoc image build`.")
def tarballs(rootfs, out):
    """Pack DIR/boot and DIR/root into boot.tar.xz and root.tar.xz and fill the
    card's partitions.json (sizes, sha256sum) and the network list's
    nominal_size."""
    from noobs_image import tarballs as tarballs_mod

    @failures(*_errors())
    def run():
        return tarballs_mod.tarballs(rootfs, out, say=lambda m: click.echo(m, err=True))
    sizes = run()
    for label, s in sizes.items():
        click.echo("%s.tar.xz: %d MB uncompressed, partition %d MB, sha256 %s" % (
            label, s["uncompressed_tarball_size"], s["partition_size_nominal"], s["sha256sum"]))


@image.command()
@click.argument("img", type=click.Path(dir_okay=False, exists=True))
@settings_options
@click.option("--init-format", type=click.Choice(["systemd", "cloudinit-rpi"]), default="systemd", show_default=True,
              help="systemd for Bookworm images (firstrun.sh), cloudinit-rpi for Trixie images (cloud-init files).")
def customise(img, init_format, **opts):
    """Write the first-boot files into IMG's FAT partition, as Imager would.

    IMG is an uncompressed Raspberry Pi OS image (or its boot partition alone);
    mtools writes into it, no root needed. Flash it afterwards with dd or
    Imager ('Use custom'). Running it again changes nothing.
    """
    from noobs_image import customise as customise_mod
    settings = make_settings(**opts)

    @failures(*_errors())
    def run():
        return customise_mod.customise(img, settings, init_format)
    changed = run()
    click.echo("%s: %s" % (img, ("wrote " + ", ".join(changed)) if changed else "already customised, nothing changed"))
    say_agent_notes(settings)


@image.command("fetch-firmware")
@click.option("--out", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Build directory: the zip goes to DIR/firmware/, its files into DIR/noobs/.")
@click.option("--kind", type=click.Choice(["pinn", "noobs"]), default="pinn", show_default=True,
              help="PINN lite (maintained, boots the Pi 5) or NOOBS lite 3.8 (no Pi 5).")
@click.option("--url", metavar="URL", help="Download from here instead of the official address (a mirror).")
@click.option("--sha256", metavar="HEX", help="Published sha256 of the zip: the download must match it.")
def fetch_firmware(out, kind, url, sha256):
    """Download the card's boot and recovery binaries (needs Internet access)
    and check them: sha256 when given, every zip member's CRC, the recovery
    files present. They are never committed (.gitignore)."""
    from noobs_image import firmware

    def progress(n, total, seen=[0, -1]):
        seen[0] += n
        if total:
            tenth = seen[0] * 10 // total
            if tenth != seen[1]:
                seen[1] = tenth
                click.echo("  %d%% of %d bytes" % (tenth * 10, total), err=True)

    @failures(*_errors())
    def run():
        return firmware.fetch(out, kind, url, sha256, progress, say=lambda m: click.echo(m, err=True))
    got = run()
    click.echo("%s: %d files, sha256 %s" % (got["zip"], len(got["files"]), got["sha256"]))
