"""`neoc fleet`: boards by the dozen against a sensOCampus stub.

    neoc fleet register devices.csv [--dry-run]   mac,building,room,kind,modules[,broker]
    neoc fleet status [--json]

Registration is idempotent: each row is compared with the registry before
anything is added or updated, a second run changes nothing and says so. A
file with a bad row (bad MAC, unknown module, duplicate MAC, missing room)
is refused whole, every bad row named by its line, nothing applied.
"""
import csv
import io
import json

import click

from neocampus import table
from neocampus.ids import mac_stored
from provisioning.admin_cli import connection_options, table as text_table, when
from provisioning.admin_client import AdminError

COLUMNS = ("mac", "building", "room", "kind", "modules", "broker")
KINDS = ("neosensor", "rpi", "display")


class FleetError(ValueError):
    pass


def parse_modules(text):
    """"temperature:60 humidity" (spaces, ; or |) -> module dicts; FleetError on an unknown one."""
    mods = []
    for word in text.replace(";", " ").replace("|", " ").replace(",", " ").split():
        name, sep, freq = word.partition(":")
        if name not in table.MODULES:
            raise FleetError("unknown module %r (known: %s)" % (name, ", ".join(table.MODULES)))
        m = {"module": name}
        if sep:
            if not freq.isdigit() or int(freq) <= 0:
                raise FleetError("module %r: frequency must be a positive number of seconds" % word)
            m["frequency"] = int(freq)
        mods.append(m)
    return mods


def parse_broker(text):
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise FleetError("broker %r: want HOST:PORT" % text)
    return host, int(port)


def read_csv(text):
    """[(line, row dict)] of a devices file; FleetError listing every bad
    row by its line number (the header is line 1)."""
    reader = csv.DictReader(io.StringIO(text), skipinitialspace=True)
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS[:5] if c not in header]
    if missing:
        raise FleetError("line 1: the header needs the columns %s (missing: %s)"
                         % (", ".join(COLUMNS[:5]) + "[, broker]", ", ".join(missing)))
    reader.fieldnames = header
    rows, errors, seen = [], [], {}
    for raw in reader:
        line = reader.line_num
        cells = {k: (v or "").strip() for k, v in raw.items() if k}
        if not any(cells.values()):
            continue
        try:
            rows.append((line, _row(cells, line, seen)))
        except FleetError as e:
            errors.append("line %d: %s" % (line, e))
    if errors:
        raise FleetError("\n".join(errors))
    return rows


def _row(cells, line, seen):
    try:
        mac = mac_stored(cells["mac"])
    except ValueError:
        raise FleetError("bad MAC %r" % cells["mac"]) from None
    if mac in seen:
        raise FleetError("duplicate MAC %s (first on line %d)" % (mac, seen[mac]))
    seen[mac] = line
    if not cells["building"]:
        raise FleetError("missing building")
    if not cells["room"]:
        raise FleetError("missing room")
    kind = cells["kind"] or "neosensor"
    if kind not in KINDS:
        raise FleetError("kind %r: one of %s" % (kind, ", ".join(KINDS)))
    row = {"mac": mac, "location": "%s/%s" % (cells["building"], cells["room"]), "kind": kind,
           "modules": parse_modules(cells["modules"]), "broker": None}
    if cells.get("broker"):
        row["broker"] = parse_broker(cells["broker"])
    return row


def _modules_key(mods):
    # The registry fills in defaults (unit, params, the table's frequency).
    return ["%s:%d" % (m["module"], m.get("frequency") or table.row(m["module"])[table.FREQ_DEFAULT])
            for m in mods]


def compare(client, row):
    """("added"|"changed"|"unchanged", what differs) for one row, nothing applied."""
    try:
        have = client.device(row["mac"])
    except AdminError as e:
        if e.status == 404:
            return "added", []
        raise
    diffs = []
    loc = "%s/%s" % (have["building"], have["room"])
    if loc != row["location"]:
        diffs.append("location %s -> %s" % (loc, row["location"]))
    if have["kind"] != row["kind"]:
        diffs.append("kind %s -> %s" % (have["kind"], row["kind"]))
    if _modules_key(have["modules"]) != _modules_key(row["modules"]):
        diffs.append("modules %s -> %s" % (" ".join(_modules_key(have["modules"])) or "-",
                                           " ".join(_modules_key(row["modules"])) or "-"))
    broker = (have.get("server"), have.get("port")) if have.get("server") else None
    if row["broker"] is not None and tuple(row["broker"]) != broker:
        raise FleetError("%s: its broker override cannot change through the admin API (it is %s): remove "
                         "the device first (neoc device rm)" % (row["mac"], "%s:%s" % broker if broker else "none"))
    return ("changed" if diffs else "unchanged"), diffs


def apply(client, row, verdict):
    if verdict == "added":
        host, port = row["broker"] or (None, None)
        client.add_device(row["mac"], location=row["location"], kind=row["kind"], modules=row["modules"],
                          server=host, port=port)
    elif verdict == "changed":
        client.update(row["mac"], location=row["location"], kind=row["kind"], modules=row["modules"])


def register_one(client, mac, location, modules=(), kind="neosensor"):
    """Register or update one board (neoc flash --register): the verdict."""
    row = {"mac": mac_stored(mac), "location": location, "kind": kind, "modules": list(modules), "broker": None}
    verdict, diffs = compare(client, row)
    apply(client, row, verdict)
    return verdict, diffs


@click.group()
def fleet():
    """Many boards at once: register them from a CSV file, see their status."""


@fleet.command()
@click.argument("csv_file", type=click.File("r"))
@click.option("--dry-run", is_flag=True, help="Say what would be added and changed; apply nothing.")
@connection_options
def register(client, as_json, csv_file, dry_run):
    """Register the boards of CSV_FILE (columns mac, building, room, kind,
    modules, and an optional broker HOST:PORT override; modules such as
    "temperature:60 humidity"). Idempotent; a file with a bad row is
    refused whole, with line numbers."""
    try:
        rows = read_csv(csv_file.read())
        verdicts = [(line, row) + compare(client, row) for line, row in rows]
    except FleetError as e:
        raise click.ClickException("%s: nothing applied\n%s" % (csv_file.name, e)) from None
    counts = {"added": 0, "changed": 0, "unchanged": 0}
    report = []
    for line, row, verdict, diffs in verdicts:
        if not dry_run:
            apply(client, row, verdict)
        counts[verdict] += 1
        report.append({"line": line, "mac": row["mac"], "result": verdict, "changes": diffs})
        if not as_json and verdict != "unchanged":
            click.echo("%s %s %s%s" % ("would " + verdict[:-1] if dry_run else verdict, row["mac"],
                                       row["location"], (": " + "; ".join(diffs)) if diffs else ""))
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "summary": counts, "rows": report}, indent=2))
        return
    summary = "%d added, %d changed, %d unchanged" % (counts["added"], counts["changed"], counts["unchanged"])
    if dry_run:
        click.echo("dry run: %s; nothing applied" % summary)
    elif not counts["added"] and not counts["changed"]:
        click.echo("%s: nothing to change" % summary)
    else:
        click.echo(summary)


STATUS_COLUMNS = [("MAC", "mac"), ("TOPIC", "topic"), ("LAST SEEN", lambda d: when(d["last_seen"])),
                  ("STATUS", "status"), ("FIRMWARE", "firmware"), ("HEAP", "heap"),
                  ("QUEUED", "queued"), ("DROPPED", "dropped"), ("UPDATE FAILED", "update_failed")]


@fleet.command()
@connection_options
def status(client, as_json):
    """Per device: last seen, status, firmware revision, free heap, queued
    and dropped readings, and the revision of a failed over-the-air update
    (rolled back by the board itself), from the device's own status message."""
    rows = []
    for d in client.devices():
        st = client.status(d["mac"]).get("device") or {}
        rows.append({"mac": d["mac"], "topic": d["topic"], "kind": d["kind"], "last_seen": d["last_seen"],
                     **{k: st.get(k) for k in ("status", "firmware", "heap", "queued", "dropped",
                                                         "update_failed")}})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        shown = [{k: ("-" if v is None else v) for k, v in r.items()} for r in rows]
        for r, raw in zip(shown, rows):
            r["last_seen"] = raw["last_seen"]
        click.echo(text_table(shown, STATUS_COLUMNS))
