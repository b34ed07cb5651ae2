"""`neoc flash PORT`: a board from blank (or from any earlier firmware) to
a configured, registered neOSensor in one command, and `neoc board info`.

The engine is toolchain/flashing.py (what to send, from one hash listing)
over toolchain/board_link.py (mpremote's transport); the board-side half is
firmware/neosensor/stage.py, shared with the over-the-air update.
"""
import contextlib
import json
import os
import pathlib
import subprocess
import sys

import click

from toolchain.board_link import Link, LinkError
from toolchain.deploy import DEPLOYS
from toolchain.flashing import CONFIG, FIRMWARE_JSON, FlashError, config_bytes, flash as run_flash, mask

BOARDS = ("esp8266", "esp32")
# Where MicroPython's image goes (MicroPython's download pages): the classic
# ESP32 boots its second stage from 0x1000, the ESP8266 from 0.
IMAGE_OFFSET = {"esp32": "0x1000", "esp8266": "0x0"}


def esptool_commands(port, board, firmware, baud=460800):
    """The esptool runs that put MicroPython itself on a serial board:
    erase the flash, then write the image (compressed, flash size detected)."""
    base = [sys.executable, "-m", "esptool", "--chip", board, "--port", port, "--baud", str(baud)]
    write = base + ["write-flash", "--flash-size", "detect", IMAGE_OFFSET[board], str(firmware)]
    return [base + ["erase-flash"], write]


def resolve_port(port):
    """PORT as given, or with `auto` the one USB serial port (mpremote's
    discovery: ports with a USB vendor id); a clear error for none or several."""
    if port != "auto":
        return port
    from serial.tools import list_ports
    found = sorted(p.device for p in list_ports.comports() if p.vid is not None and p.pid is not None)
    if not found:
        raise click.ClickException("no USB serial board found (auto): plug one in, or give its port "
                                   "(e.g. /dev/ttyUSB0)")
    if len(found) > 1:
        raise click.ClickException("several USB serial ports found (auto): %s; give one of them as PORT"
                                   % ", ".join(found))
    return found[0]


def wifi_pair(value):
    """--wifi SSID[:PASSWORD]: the password from the option, else
    NEOC_WIFI_PASSWORD, else a prompt on a terminal (never echoed). "SSID:"
    is an open network."""
    if value is None:
        return None
    ssid, sep, password = value.partition(":")
    if not ssid:
        raise click.BadParameter("want SSID[:PASSWORD]", param_hint="--wifi")
    if sep:
        return ssid, password
    if os.environ.get("NEOC_WIFI_PASSWORD") is not None:
        return ssid, os.environ["NEOC_WIFI_PASSWORD"]
    if sys.stdin.isatty():
        return ssid, click.prompt("Wi-Fi password for %s" % ssid, hide_input=True, default="",
                                  show_default=False)
    raise click.UsageError("no Wi-Fi password for %s: give --wifi SSID:PASSWORD, set NEOC_WIFI_PASSWORD, or "
                           "write --wifi %s: for an open network" % (ssid, ssid))


class Progress:
    """Files and bytes sent: a bar on a terminal, plain lines otherwise."""

    def __init__(self, files, total, tty=None):
        self.files, self.total = files, total
        self.done_files = self.done = self.quarter = 0
        self.tty = sys.stdout.isatty() if tty is None else tty

    def __call__(self, files, nbytes):
        self.done_files += files
        self.done += nbytes
        if self.tty:
            width = 30
            filled = width * self.done // max(self.total, 1)
            click.echo("\r[%s%s] %d/%d files %d/%d B" % ("#" * filled, "." * (width - filled), self.done_files,
                                                       self.files, self.done, self.total), nl=False)
            if self.done >= self.total:
                click.echo()
        elif files or self.done * 4 // max(self.total, 1) > self.quarter:
            # Plain lines for a log: when a file is done, or at each quarter of a big one.
            self.quarter = self.done * 4 // max(self.total, 1)
            click.echo("sent %d/%d files, %d/%d B" % (self.done_files, self.files, self.done, self.total))


def _token(token, data_dir):
    if token:
        return token
    path = pathlib.Path(data_dir) / "admin-token"
    if not path.exists():
        raise click.UsageError("--register needs the stub's admin token: pass --token, set NEOC_TOKEN, or "
                               "point --data-dir at the stub's data directory")
    return path.read_text().strip()


@click.command()
@click.argument("port")
@click.option("--board", type=click.Choice(BOARDS), help="Board type (default: asked from the board).")
@click.option("--deploy", "mode", type=click.Choice(DEPLOYS), help="romfs: the code as one ROMFS image (the "
              "default where the board's MicroPython has a ROMFS partition); mpy: .mpy files (the default "
              "otherwise).")
@click.option("--wifi", metavar="SSID[:PASSWORD]", help="Wi-Fi network for /config.json; the password also "
              "from NEOC_WIFI_PASSWORD or a prompt (never echoed nor logged).")
@click.option("--server", metavar="URL", help="sensOCampus URL for /config.json (and the stub whose admin API "
              "--register uses).")
@click.option("--sandbox", is_flag=True, help="Sandbox mode in /config.json (no sensOCampus).")
@click.option("--ca", type=click.Path(exists=True, dir_okay=False), help="CA bundle (PEM) written as /ca.pem: "
              "the board then verifies the broker's TLS certificate.")
@click.option("--register", is_flag=True, help="Register the board's MAC (read from the board) with the stub "
              "first, at --location with --module.")
@click.option("--location", metavar="BUILDING/ROOM", help="Where the board is, for --register (e.g. U4/302).")
@click.option("--module", "modules", multiple=True, metavar="NAME[:FREQUENCY]", help="A module of its zone, for "
              "--register (repeatable).")
@click.option("--token", envvar="NEOC_TOKEN", help="The stub's admin token, for --register [env NEOC_TOKEN].")
@click.option("--data-dir", default="./neoc-data", show_default=True, type=click.Path(file_okay=False),
              help="Read the admin token from DATA_DIR/admin-token when none is given.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent and deleted; write nothing.")
@click.option("--erase", is_flag=True, help="Remove the app, its config and its state files (MicroPython "
              "stays), then reset.")
@click.option("--micropython", "firmware", type=click.Path(exists=True, dir_okay=False), metavar="FIRMWARE.bin",
              help="First write MicroPython itself with esptool (serial boards only; needs --board). The file "
              "is yours: nothing is downloaded.")
@click.option("--baud", type=int, default=115200, show_default=True, help="Serial speed of the REPL.")
def flash(port, board, mode, wifi, server, sandbox, ca, register, location, modules, token, data_dir, dry_run,
          erase, firmware, baud):
    """Deploy the firmware to the board at PORT (/dev/ttyUSB0, auto, or
    socket://HOST:PORT): compiled for the board's architecture, exactly the
    firmware manifest, /config.json, each file verified by its sha256
    computed on the board, then a soft reset.

    Only what changed is sent (the board's hashes come back from one script
    run); files of an earlier firmware that left the manifest are removed.
    Files are staged and switched in only once all are there and verified:
    a cut leaves the previous firmware booting, and the same command run
    again finishes the job."""
    wifi_value = wifi_pair(wifi)
    if register and not (location and server):
        raise click.UsageError("--register needs --location BUILDING/ROOM and --server URL")
    if (location or modules) and not register:
        raise click.UsageError("--location and --module are for --register")
    if erase and (wifi or server or sandbox or ca or register or firmware):
        raise click.UsageError("--erase takes no other option: it removes the app and its config")
    if firmware:
        _write_micropython(port, board, firmware, dry_run)
    port = resolve_port(port)
    client = None
    if register:
        from provisioning.admin_client import AdminClient
        client = AdminClient(server, _token(token, data_dir))
    link = _link(port, baud)
    try:
        if erase:
            _erase(link, dry_run)
            return
        config = None
        if wifi_value or server or sandbox or board:
            def config(kind):
                return config_bytes(server, wifi_value, sandbox=sandbox, board=kind)
        before = _registrar(client, location, modules, dry_run) if register else None
        ca_bytes = pathlib.Path(ca).read_bytes() if ca else None
        total = {}

        def progress(files, nbytes):
            total["bar"](files, nbytes)

        def show_plan(info, plan):
            if before:
                before(info, plan)
            for line in plan.describe() if dry_run else plan.describe()[-1:]:
                click.echo(line)
            total["bar"] = Progress(len(plan.send), plan.bytes)

        result = run_flash(link, board=board, mode=mode, config=config, ca=ca_bytes, before=show_plan,
                           dry_run=dry_run, progress=progress)
        _summary(result, link)
    except FlashError as e:
        raise click.ClickException(str(e)) from None
    except LinkError as e:
        raise click.ClickException(
            "%s\nNothing is switched in before every file is staged and verified: the board boots its previous "
            "firmware. Run the same command again to finish (what is staged is kept)." % e) from None
    finally:
        _release(link)


def _release(link):
    """Soft-reset the board (its firmware, if any, runs again) and close the link."""
    try:
        link.reset()
    except LinkError:
        pass
    link.close()


def _link(port, baud):
    link = None
    try:
        link = Link(port, baudrate=baud)
        link.open()
    except LinkError as e:
        if link is not None:
            link.close()
        raise click.ClickException("%s\nNothing was written to the board. Run the same command again (check the "
                                   "port, and that no other program holds it)." % e) from None
    return link


@contextlib.contextmanager
def board_session(port, baud):
    """The opened link to the board at PORT (`auto` resolved) for a command
    that only looks: a link error becomes the command's error, and the board
    is soft-reset at the end, so its firmware (if any) runs again."""
    link = _link(resolve_port(port), baud)
    try:
        yield link
    except LinkError as e:
        raise click.ClickException(str(e)) from None
    finally:
        _release(link)


def _registrar(client, location, modules, dry_run):
    from provisioning.admin_cli import parse_module
    from provisioning.fleet import FleetError, compare, register_one

    def before(info, plan):
        if not info.get("mac"):
            raise FlashError("the board told no MAC (no network module): cannot --register it")
        mods = [parse_module(m) for m in modules]
        try:
            if dry_run:
                verdict, diffs = compare(client, {"mac": info["mac"], "location": location, "kind": "neosensor",
                                                  "modules": mods, "broker": None})
                click.echo("would register %s at %s: %s" % (info["mac"], location, verdict))
                return
            verdict, diffs = register_one(client, info["mac"], location, mods)
        except (FleetError, ValueError) as e:
            raise FlashError("--register: %s" % e) from None
        except OSError as e:
            raise FlashError("--register: cannot reach %s: %s" % (client.url, e)) from None
        except RuntimeError as e:   # AdminError: the stub refused
            raise FlashError("--register: %s" % e) from None
        click.echo("registered %s at %s: %s%s" % (info["mac"], location, verdict,
                                                  (" (" + "; ".join(diffs) + ")") if diffs else ""))
    return before


def _summary(result, link):
    plan = result["plan"]
    if result["dry_run"]:
        click.echo("dry run: nothing written to %s (%s, deploy %s)" % (result["mac"], result["board"],
                                                                      result["deploy"]))
        return
    if not result["switched"]:
        click.echo("%s is up to date (%d files unchanged, no file content sent); resetting"
                   % (result["mac"], len(plan.keep)))
        return
    click.echo("flashed %s (%s, deploy %s): %d sent (%d B), %d unchanged, %d removed%s; %d B over the link; "
               "resetting" % (result["mac"], result["board"], result["deploy"], len(plan.send), plan.bytes,
                              len(plan.keep), len(plan.remove),
                              ", finished a cut flash" if result["resumed"] or plan.staged else "", link.sent))


def _erase(link, dry_run):
    if dry_run:
        files = link.listing()
        for p in sorted(files):
            click.echo("delete %s" % p)
        click.echo("dry run: %d files would be deleted" % len(files))
        return
    n = link.run("print(erase())").strip()
    click.echo("erased %s: %s files removed (MicroPython stays); resetting" % (link.info["mac"], n))


def _write_micropython(port, board, firmware, dry_run):
    if port.startswith("socket://"):
        raise click.UsageError("--micropython writes through the ROM bootloader: a serial port, not %s" % port)
    if not board:
        raise click.UsageError("--micropython needs --board: there is no MicroPython yet to ask")
    for cmd in esptool_commands(resolve_port(port), board, firmware):
        click.echo("$ " + " ".join(cmd[2:]))
        if dry_run:
            continue
        if subprocess.run(cmd).returncode != 0:
            raise click.ClickException("esptool failed: MicroPython is not written (the board is as it was "
                                       "or erased; run the same command again)")


@click.command("info")
@click.argument("port")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--baud", type=int, default=115200, show_default=True)
def info(port, as_json, baud):
    """MicroPython version, board, MAC, free flash and heap, firmware
    revision, deploy kind and /config.json (passwords masked) of the board
    at PORT."""
    with board_session(port, baud) as link:
        data = board_info(link)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        click.echo("%-18s %s" % (key + ":", json.dumps(value) if isinstance(value, (dict, list)) else value))


def board_info(link):
    """What `neoc board info` shows, as a dict."""
    i = link.info
    mine = link.read_json(FIRMWARE_JSON) or {}
    cfg = link.read_json(CONFIG)
    return {"micropython": i["version"], "platform": i["platform"], "machine": i["machine"], "board": i["board"],
            "mac": i["mac"], "flash_free": i["flash_free"], "flash_size": i["flash_size"],
            "heap_free": i["heap_free"], "romfs_partition": i["partition"] or ("virtual" if i["virtual"] else 0),
            "firmware": mine.get("revision"), "deploy": mine.get("deploy"), "arch": mine.get("arch"),
            "config": mask(cfg) if cfg else None}


# `neoc board info` (joined to the board group by neoc/cli.py), also as
# `python -m provisioning.flash info PORT`.
if __name__ == "__main__":
    click.Group(commands={"flash": flash, "info": info})()
