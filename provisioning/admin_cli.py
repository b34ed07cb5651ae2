"""`neoc device ...` and `neoc readings`: the admin API from a shell.

Server and token come from --server/--token, else NEOC_SERVER/NEOC_TOKEN,
else the token file of a local stub's --data-dir (default ./neoc-data) and
http://127.0.0.1:8000. Tables for humans, --json for scripts.
"""
import functools
import json
import pathlib
import time

import click

from provisioning.admin_client import AdminClient, AdminError

DEFAULT_SERVER = "http://127.0.0.1:8000"


def connection_options(f):
    @click.option("--server", envvar="NEOC_SERVER", default=None, help="Stub URL [env NEOC_SERVER; "
                  "default %s]" % DEFAULT_SERVER)
    @click.option("--token", envvar="NEOC_TOKEN", default=None, help="Admin token [env NEOC_TOKEN].")
    @click.option("--data-dir", default="./neoc-data", show_default=True, type=click.Path(file_okay=False),
                  help="Read the token from DATA_DIR/admin-token when no token is given.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
    @functools.wraps(f)
    def wrapper(server, token, data_dir, as_json, **kwargs):
        if not token:
            path = pathlib.Path(data_dir) / "admin-token"
            if not path.exists():
                raise click.UsageError("no admin token: pass --token, set NEOC_TOKEN, or point --data-dir at "
                                       "the stub's data directory")
            token = path.read_text().strip()
        client = AdminClient(server or DEFAULT_SERVER, token)
        try:
            return f(client, as_json, **kwargs)
        except AdminError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:  # requests' connection errors are OSErrors
            raise click.ClickException("cannot reach %s: %s" % (client.url, exc)) from None
        except ValueError as exc:  # a malformed MAC, before any request
            raise click.ClickException(str(exc)) from None
    return wrapper


def when(ts):
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def table(rows, columns):
    """rows: list of dicts; columns: [(header, key or function)]."""
    cells = [[h for h, _ in columns]]
    for r in rows:
        cells.append([str(k(r) if callable(k) else r.get(k, "")) for _, k in columns])
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


def emit(data, as_json, columns=None):
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif columns is not None:
        click.echo(table(data if isinstance(data, list) else [data], columns))
    else:
        for key, value in data.items():
            click.echo("%-17s %s" % (key + ":", json.dumps(value, ensure_ascii=False)
                                     if isinstance(value, (dict, list)) else value))


DEVICE_COLUMNS = [("MAC", "mac"), ("LOGIN", "login"), ("TOPIC", "topic"), ("KIND", "kind"),
                  ("ENABLED", lambda d: "yes" if d["enabled"] else "no"),
                  ("PASSWORD", lambda d: "pending" if d["password_pending"] else "issued"),
                  ("MODULES", lambda d: ",".join(m["module"] for m in d["modules"]) or "-"),
                  ("ROOMS", lambda d: ",".join(d.get("rooms") or []) or "-"),
                  ("LAST SEEN", lambda d: when(d["last_seen"]))]

READING_COLUMNS = [("RECEIVED", lambda r: when(r["received_at"])), ("TOPIC", "topic"), ("UNIT", "unitID"),
                   ("SUB", lambda r: r["subID"] or "-"), ("VALUE", "value"),
                   ("UNITS", lambda r: r["value_units"] or ""), ("SEQ", lambda r: r.get("seq", ""))]


def parse_module(text):
    name, sep, freq = text.partition(":")
    module = {"module": name}
    if sep:
        try:
            module["frequency"] = int(freq)
        except ValueError:
            raise click.BadParameter("expected NAME[:FREQUENCY] with FREQUENCY in seconds, got %r" % text)
    return module


@click.group()
def device():
    """Register and manage devices on a sensOCampus stub (`neoc server`)."""


@device.command("add")
@click.argument("mac")
@click.option("--location", required=True, help="BUILDING/ROOM, e.g. 'U4/302' (sanitised into the topic).")
@click.option("--kind", type=click.Choice(["neosensor", "rpi", "display"]), default="neosensor",
              show_default=True, help="display: a read-only account that subscribes to --rooms' readings.")
@click.option("--rooms", "rooms", multiple=True, metavar="BUILDING/ROOM,...",
              help="Rooms a display may read (comma-separated or repeated; default its --location).")
@click.option("--module", "modules", multiple=True, metavar="NAME[:FREQUENCY]",
              help="A module of the device's zone, e.g. temperature:60 (repeatable).")
@click.option("--mqtt-server", default=None, help="Per-device broker override sent with its credentials, "
              "instead of the broker the stub advertises (neoc server --advertise-broker).")
@click.option("--mqtt-port", type=click.IntRange(1, 65535), default=None,
              help="Port of that broker (alone: the advertised broker's host on this port).")
@click.option("--claim-window", default=None, metavar="DURATION",
              help="Its first credentials call must come within this time (90s, 15m, 1h, 2d; 0: no limit) "
                   "[default: the server's --claim-window].")
@connection_options
def add(client, as_json, mac, location, kind, modules, mqtt_server, mqtt_port, rooms, claim_window):
    """Register MAC; its first credentials call will receive the password."""
    shown = [r.strip() for group in rooms for r in group.split(",") if r.strip()]
    if shown and kind != "display":
        raise click.UsageError("--rooms is for --kind display")
    d = client.add_device(mac, location=location, kind=kind, modules=[parse_module(m) for m in modules],
                          server=mqtt_server, port=mqtt_port, rooms=shown or None,
                          claim_window=_duration(claim_window))
    emit(d, as_json, None if as_json else DEVICE_COLUMNS)


@device.command("list")
@connection_options
def list_(client, as_json):
    """All registered devices."""
    emit(client.devices(), as_json, DEVICE_COLUMNS)


@device.command("show")
@click.argument("mac")
@click.option("--logs", is_flag=True, help="Also the device's log records.")
@connection_options
def show(client, as_json, mac, logs):
    """One device with its zone and last status."""
    d = client.device(mac)
    d["status"] = client.status(mac)
    if logs:
        d["logs"] = client.logs(mac)
    emit(d, as_json)


@device.command("rm")
@click.argument("mac")
@connection_options
def rm(client, as_json, mac):
    """Delete a device (its broker account goes at once)."""
    emit(client.delete(mac), as_json)


@device.command("reset-credentials")
@click.argument("mac")
@click.option("--claim-window", default=None, metavar="DURATION",
              help="The new password goes to a credentials call within this time [default: the server's].")
@connection_options
def reset(client, as_json, mac, claim_window):
    """Invalidate the password now; the next credentials call issues a new one."""
    emit(client.reset_credentials(mac, claim_window=_duration(claim_window)), as_json,
         None if as_json else DEVICE_COLUMNS)


def _duration(text):
    if text is None:
        return None
    from provisioning.durations import parse_duration
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--claim-window") from None


@device.command("disable")
@click.argument("mac")
@connection_options
def disable(client, as_json, mac):
    """Refuse the device on HTTP and on the broker."""
    emit(client.disable(mac), as_json, None if as_json else DEVICE_COLUMNS)


@device.command("enable")
@click.argument("mac")
@connection_options
def enable(client, as_json, mac):
    """Undo `disable`."""
    emit(client.enable(mac), as_json, None if as_json else DEVICE_COLUMNS)


@device.command("order")
@click.argument("mac")
@click.argument("order")
@click.argument("value", required=False)
@click.option("--module", default=None, help="Send to <loc>/MODULE/command, addressed to that module's unitID.")
@click.option("--dest", default=None, help="Override the addressee (a unitID, the MAC, or all).")
@connection_options
def order(client, as_json, mac, order, value, module, dest):
    """Send ORDER (status, frequency, restart, reboot, upgrade, acquire...) to <loc>/device/command,
    or with --module to <loc>/MODULE/command."""
    if value is not None:
        try:
            value = json.loads(value)
        except ValueError:
            pass  # a bare word such as an URL stays a string
    emit(client.order(mac, order, value, module=module, dest=dest), as_json)


@click.command()
@click.option("--topic", help="A topic or a prefix such as u4/302.")
@click.option("--unit", help="unitID, e.g. auto_92f8.")
@click.option("--since", help="Epoch seconds or ISO 8601 time.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new readings.")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Poll period with --follow.")
@connection_options
def readings(client, as_json, topic, unit, since, limit, follow, interval):
    """Readings stored by the stub's collector (newest last)."""
    rows = client.readings(topic=topic, unit=unit, since=since, limit=limit)
    if as_json and not follow:
        emit(rows, True)
        return
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, ensure_ascii=False))
    else:
        click.echo(table(rows, READING_COLUMNS))
    if not follow:
        return
    last = rows[-1]["id"] if rows else 0
    try:
        while True:
            time.sleep(interval)
            new = client.readings(topic=topic, unit=unit, after=last, limit=10000)
            for r in new:
                if as_json:
                    click.echo(json.dumps(r, ensure_ascii=False))
                else:
                    click.echo(table([r], READING_COLUMNS).splitlines()[1])
                last = r["id"]
    except KeyboardInterrupt:
        pass

