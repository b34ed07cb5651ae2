"""The sensOCampus registry: devices, their credentials, zones, logs, statuses, readings.

SQLite in the stub's data directory, parameterised queries only. Calls are
short and made from the server's event loop (one connection, WAL journal),
which keeps ordering simple: a credentials reset is visible to the next
request and to the broker's authorisation check at once.
"""
import json
import logging
import re
import sqlite3
import time

from neocampus import table
from neocampus.ids import login_for, mac_stored
from provisioning import acl, passwords, seqcount

KINDS = ("neosensor", "rpi", "display")
MAX_ROOMS = 64
# s: last_seen is a hint (when a device last called or published), kept to this
# resolution: a call within it of the last one writes nothing. In a storm of 2,000
# boots a device's config call comes ~1-2 s after its credentials call (every
# device waits its turn twice): 10 s spares that write to nearly all of them,
# and is finer than the firmware's retry delays (10, 20, 30 s...).
SEEN_RESOLUTION = 10.0
MODULE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_UNIT_NAME = re.compile(r"^[a-z0-9_]{1,32}$")  # it becomes part of unitIDs: `<unit>_xxxx`

SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    mac TEXT PRIMARY KEY,
    login TEXT UNIQUE NOT NULL,
    building TEXT NOT NULL,
    room TEXT NOT NULL,
    location TEXT NOT NULL,
    kind TEXT NOT NULL,
    modules TEXT NOT NULL DEFAULT '[]',
    enabled INTEGER NOT NULL DEFAULT 1,
    password_hash TEXT,
    broker_hash TEXT,
    password_pending INTEGER NOT NULL DEFAULT 1,
    server TEXT,
    port INTEGER,
    rooms TEXT,
    claim_until REAL,
    claimed_from TEXT,
    created_at REAL NOT NULL,
    last_seen REAL
);
CREATE INDEX IF NOT EXISTS devices_location ON devices(location);
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY,
    mac TEXT NOT NULL,
    received_at REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_mac ON logs(mac, id);
CREATE TABLE IF NOT EXISTS statuses (
    topic TEXT NOT NULL,
    unit_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (topic, unit_id)
);
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    building TEXT NOT NULL,
    room TEXT NOT NULL,
    module TEXT NOT NULL,
    unit_id TEXT NOT NULL,
    sub_id TEXT,
    value TEXT NOT NULL,
    value_units TEXT,
    seq INTEGER,
    received_at REAL NOT NULL,
    epoch INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS readings_topic ON readings(topic, id);
CREATE INDEX IF NOT EXISTS readings_time ON readings(received_at);
CREATE TABLE IF NOT EXISTS seq_counts (
    device TEXT PRIMARY KEY,
    epoch INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    received INTEGER NOT NULL,
    missing INTEGER NOT NULL,
    duplicates INTEGER NOT NULL,
    restarts INTEGER NOT NULL
);
"""

# A redelivered reading (the broker sends again what was not acknowledged) is
# stored once. The topic is part of the key so that two devices of different
# rooms whose MACs end alike (the same `auto_xxxx`) never shadow each other;
# the epoch, so that a device whose counter started again (seqcount.py) keeps
# its new readings.
READINGS_ONCE = ("CREATE UNIQUE INDEX IF NOT EXISTS readings_once ON readings"
                 "(topic, unit_id, COALESCE(sub_id, ''), epoch, seq) WHERE seq IS NOT NULL")
_DUPLICATES = ("DELETE FROM readings WHERE seq IS NOT NULL AND id NOT IN (SELECT MIN(id) FROM readings"
               " WHERE seq IS NOT NULL GROUP BY topic, unit_id, COALESCE(sub_id, ''), epoch, seq)")
_INSERT_READING = ("INSERT OR IGNORE INTO readings (topic, building, room, module, unit_id, sub_id, value,"
                   " value_units, seq, received_at, epoch) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
_STORED_VALUE = ("SELECT value FROM readings WHERE topic=? AND unit_id=? AND COALESCE(sub_id, '')=? AND epoch=?"
                 " AND seq=?")
_SAVE_COUNTS = "INSERT OR REPLACE INTO seq_counts VALUES (?,?,?,?,?,?,?)"
# A device with its reading counts (seq_counts is keyed by the stored MAC).
_WITH_COUNTS = ("SELECT devices.*, " + ", ".join("seq_counts.%s AS c_%s" % (f, f) for f in seqcount.FIELDS)
                + " FROM devices LEFT JOIN seq_counts ON seq_counts.device = devices.mac")
# What a row can make SQLite refuse (a value it cannot bind); OperationalError
# (disk full, I/O) is the store failing, not the row, and is never caught here.
_ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.DataError, sqlite3.ProgrammingError,
               OverflowError, ValueError)

log = logging.getLogger("neoc.registry")

LOG_FIELDS = ("levelno", "levelname", "name", "module", "funcName", "lineno", "msg", "created")
MAX_LOG_FIELD = 4096


class RegistryError(ValueError):
    """Bad input from an admin or a device: the HTTP layer turns it into a 4xx."""


class NotFound(LookupError):
    pass


def parse_location(location):
    """"u4/302" or ("Bâtiment U4", "Salle 302") -> (building, room)."""
    if isinstance(location, (list, tuple)) and len(location) == 2:
        building, room = location
    elif isinstance(location, str) and location.count("/") == 1:
        building, room = location.split("/")
    else:
        raise RegistryError("location must be BUILDING/ROOM")
    if not isinstance(building, str) or not isinstance(room, str) or not building.strip() or not room.strip():
        raise RegistryError("building and room must be non-empty")
    if len(building) > 100 or len(room) > 100:
        raise RegistryError("building or room name too long")
    return building.strip(), room.strip()


def clean_mac(mac):
    try:
        return mac_stored(mac)
    except ValueError as exc:
        raise RegistryError(str(exc)) from None


def clean_rooms(rooms, kind, location):
    """The location topics a display shows, as a JSON list; None for other kinds.
    rooms: "BUILDING/ROOM" strings or (building, room) pairs; a display without
    any shows its own room."""
    if kind != "display":
        if rooms:
            raise RegistryError("only a display has rooms (kind display)")
        return None
    if rooms is None or rooms == []:
        return json.dumps([location])
    if not isinstance(rooms, list) or len(rooms) > MAX_ROOMS:
        raise RegistryError("rooms must be a list of at most %d BUILDING/ROOM" % MAX_ROOMS)
    topics = []
    for room in rooms:
        topic = acl.location_topic(*parse_location(room))
        if topic not in topics:
            topics.append(topic)
    return json.dumps(topics)


def clean_modules(modules):
    if modules is None:
        return []
    if not isinstance(modules, list):
        raise RegistryError("modules must be a list")
    out = []
    for m in modules:
        if isinstance(m, str):
            m = {"module": m}
        if not isinstance(m, dict) or not isinstance(m.get("module"), str):
            raise RegistryError("each module needs a name: {\"module\": \"temperature\", ...}")
        name = m["module"]
        if not MODULE_NAME.match(name):
            raise RegistryError("module name %r must be a lowercase word such as temperature" % name)
        freq = m.get("frequency")
        if freq is not None and (isinstance(freq, bool) or not isinstance(freq, int) or freq <= 0):
            raise RegistryError("frequency of %s must be a positive integer (seconds)" % name)
        unit = m.get("unit")
        if unit is not None and (not isinstance(unit, str) or not _UNIT_NAME.match(unit)):
            raise RegistryError("unit of %s must be a short name of [0-9a-z_]" % name)
        driver = m.get("driver")
        if driver is not None and not isinstance(driver, str):
            raise RegistryError("driver of %s must be a string" % name)
        params = m.get("params") or []
        if not isinstance(params, list) or not all(
                isinstance(p, dict) and isinstance(p.get("param"), str) and "value" in p for p in params):
            raise RegistryError("params of %s must be [{\"param\": NAME, \"value\": ...}]" % name)
        entry = {"module": name, "unit": unit,
                 "frequency": freq if freq is not None else table.row(name)[table.FREQ_DEFAULT]}
        if driver:
            entry["driver"] = driver
        entry["params"] = [{"param": p["param"], "value": p["value"]} for p in params]
        out.append(entry)
    return out


class Registry:
    def __init__(self, path, on_change=None):
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(devices)")}
        for column in ("rooms TEXT", "claim_until REAL", "claimed_from TEXT"):
            if column.split()[0] not in columns:  # a registry made before that column
                self.db.execute("ALTER TABLE devices ADD COLUMN " + column)
        if "epoch" not in {r[1] for r in self.db.execute("PRAGMA table_info(readings)")}:
            self.db.execute("ALTER TABLE readings ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0")
        once = self.db.execute("SELECT sql FROM sqlite_master WHERE name='readings_once'").fetchone()
        if once is None or "epoch" not in once[0]:
            with self.db:  # a registry from before the key (or before its epoch) may hold duplicates
                self.db.execute("BEGIN")
                self.db.execute("DROP INDEX IF EXISTS readings_once")
                self.db.execute(_DUPLICATES)
                self.db.execute(READINGS_ONCE)
        self.generation = 0  # bumped on every device change (collector caches follow it)
        # Called with the device login whenever its broker account or ACL changes.
        self.on_change = on_change
        self.store_error = None  # (since, message) while SQLite cannot write (disk full, I/O)

    def write_failed(self, exc):
        """A write raised sqlite3.OperationalError: remember and log it once, not per call."""
        if self.store_error is None:
            self.store_error = (time.time(), str(exc))
            log.error("the registry cannot write (%s): readings wait unacknowledged in the broker, "
                      "admin changes and new passwords are refused with 507 until it can", exc)

    def write_ok(self):
        if self.store_error is not None:
            log.warning("the registry writes again, after %.0f s", time.time() - self.store_error[0])
            self.store_error = None

    def close(self):
        self.db.close()

    def _changed(self, login):
        self.generation += 1
        if self.on_change:
            self.on_change(login)

    # -- admin side -------------------------------------------------------
    def _check_topic_free(self, building, room, mac=None):
        """Two rooms must not share a topic ("302-B" and "302 b" are both `302_b`):
        their devices would publish into each other's room."""
        topic = acl.location_topic(building, room)
        for other in self.db.execute("SELECT mac, building, room FROM devices WHERE location=?", (topic,)):
            if other["mac"] != mac and (other["building"].casefold(), other["room"].casefold()) != (
                    building.casefold(), room.casefold()):
                raise RegistryError("location %s/%s has the topic %s of %s/%s already; name it so that the "
                                    "topics differ" % (building, room, topic, other["building"], other["room"]))
        return topic

    def add_device(self, mac, location, kind="neosensor", modules=None, server=None, port=None, rooms=None,
                   claim_window=None):
        """claim_window: seconds after which a first credentials call is refused (None: no limit)."""
        mac = clean_mac(mac)
        claim_until = claim_deadline(claim_window)
        building, room = parse_location(location)
        self._check_topic_free(building, room)
        if kind not in KINDS:
            raise RegistryError("kind must be one of %s" % ", ".join(KINDS))
        mods = clean_modules(modules)
        shown = clean_rooms(rooms, kind, acl.location_topic(building, room))
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            raise RegistryError("port must be 1-65535")
        if server is not None and not isinstance(server, str):
            raise RegistryError("server must be a host name")
        try:
            self.db.execute(
                "INSERT INTO devices (mac, login, building, room, location, kind, modules, server, port,"
                " rooms, claim_until, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (mac, login_for(mac), building, room, acl.location_topic(building, room), kind,
                 json.dumps(mods), server, port, shown, claim_until, time.time()))
        except sqlite3.IntegrityError:
            raise RegistryError("device %s is already registered" % mac) from None
        self._changed(login_for(mac))
        return self.device(mac)

    def update_device(self, mac, location=None, kind=None, modules=None, enabled=None, rooms=None):
        row = self._row(mac)
        building, room = (row["building"], row["room"]) if location is None else parse_location(location)
        self._check_topic_free(building, room, row["mac"])
        if kind is not None and kind not in KINDS:
            raise RegistryError("kind must be one of %s" % ", ".join(KINDS))
        kind = kind or row["kind"]
        mods = row["modules"] if modules is None else json.dumps(clean_modules(modules))
        if enabled is not None and not isinstance(enabled, bool):
            raise RegistryError("enabled must be true or false")
        if rooms is None and kind == "display" and row["rooms"]:
            shown = row["rooms"]  # a display keeps its rooms unless given new ones
        else:
            shown = clean_rooms(rooms, kind, acl.location_topic(building, room))
        self.db.execute(
            "UPDATE devices SET building=?, room=?, location=?, kind=?, modules=?, enabled=?, rooms=? WHERE mac=?",
            (building, room, acl.location_topic(building, room), kind, mods,
             row["enabled"] if enabled is None else int(enabled), shown, row["mac"]))
        self._changed(row["login"])
        return self.device(row["mac"])

    def set_enabled(self, mac, enabled):
        return self.update_device(mac, enabled=enabled)

    def delete_device(self, mac):
        row = self._row(mac)
        self.db.execute("DELETE FROM devices WHERE mac=?", (row["mac"],))
        self.db.execute("DELETE FROM logs WHERE mac=?", (row["mac"],))
        self._changed(row["login"])

    def reset_credentials(self, mac, claim_window=None):
        """The old password stops working now; the next credentials call (within
        claim_window seconds, if given) issues a new one."""
        row = self._row(mac)
        self.db.execute("UPDATE devices SET password_hash=NULL, broker_hash=NULL, password_pending=1,"
                        " claim_until=?, claimed_from=NULL WHERE mac=?", (claim_deadline(claim_window), row["mac"]))
        self._changed(row["login"])
        return self.device(row["mac"])

    def _row(self, mac):
        row = self.db.execute("SELECT * FROM devices WHERE mac=?", (clean_mac(mac),)).fetchone()
        if row is None:
            raise NotFound("no device %s" % mac)
        return row

    def _public(self, row):
        return {
            "mac": row["mac"], "login": row["login"], "building": row["building"], "room": row["room"],
            "topic": row["location"], "kind": row["kind"], "modules": json.loads(row["modules"]),
            "enabled": bool(row["enabled"]), "password_pending": bool(row["password_pending"]),
            "server": row["server"], "port": row["port"], "rooms": rooms_of(row),
            "claim_until": row["claim_until"] if row["password_pending"] else None, "created_at": row["created_at"],
            "last_seen": row["last_seen"],
            "readings": seqcount.public(None if row["c_epoch"] is None else [row["c_" + f] for f in seqcount.FIELDS]),
        }

    def device(self, mac):
        row = self.db.execute(_WITH_COUNTS + " WHERE devices.mac=?", (clean_mac(mac),)).fetchone()
        if row is None:
            raise NotFound("no device %s" % mac)
        return self._public(row)

    def devices(self):
        return [self._public(r) for r in self.db.execute(_WITH_COUNTS + " ORDER BY location, devices.mac")]

    # -- device side ------------------------------------------------------
    def lookup(self, mac):
        """The device row for a credentials call, or None (unknown MAC)."""
        try:
            mac = mac_stored(mac)
        except ValueError:
            return None
        return self.db.execute("SELECT * FROM devices WHERE mac=?", (mac,)).fetchone()

    def credentials(self, mac, issued=None, broker=None, claimer=None, row=None):
        """The protocol's credentials answer, or None for an unknown or disabled MAC.

        issued: (password, registry hash, broker hash) from passwords.issue(),
        computed by the caller; made here when absent.
        broker: (host, port) the server advertises to every device, or None.
        The device's own override (its server and port columns) wins; a server
        of its own is never paired with the advertised port, which belongs to
        the advertised host.
        row: the device's row as lookup(mac) returned it just before, in the same
        event-loop turn (the server's handler: one SELECT per call, not two)."""
        if row is None:
            row = self.lookup(mac)
        if row is None or not row["enabled"]:
            return None
        if row["password_pending"] and row["claim_until"] is not None and time.time() > row["claim_until"]:
            return None  # its claim window closed: an admin resets it to open a new one
        answer = {"login": row["login"]}
        if row["password_pending"]:
            password, reg_hash, broker_hash = issued or passwords.issue()
            cur = self.db.execute(
                "UPDATE devices SET password_hash=?, broker_hash=?, password_pending=0, last_seen=?,"
                " claimed_from=? WHERE mac=? AND password_pending=1",
                (reg_hash, broker_hash, time.time(), claimer, row["mac"]))
            # Of two simultaneous first calls only one delivers the password.
            if cur.rowcount == 1:
                answer["password"] = password
                self._changed(row["login"])
        else:
            self.seen(row)
        server, port = row["server"], row["port"]
        if broker and not server:
            server, port = broker[0], port or broker[1]
        if server:
            answer["server"] = server
        if port:
            answer["port"] = port
        return answer

    def device_for_login(self, login):
        """The row of an enabled device holding a password, for Basic auth; else None."""
        if not isinstance(login, str) or not login.startswith("senso_"):
            return None
        row = self.db.execute("SELECT * FROM devices WHERE login=?", (login,)).fetchone()
        if row is None or not row["enabled"] or not row["password_hash"]:
            return None
        return row

    def authenticate(self, login, password):
        """The device row for valid Basic-auth credentials of an enabled device, else None."""
        row = self.device_for_login(login)
        if row is None or not passwords.registry_verify(password, row["password_hash"]):
            return None
        return row

    def config(self, row):
        mods = json.loads(row["modules"])
        zones = [{"topic": row["location"], "modules": mods}] if mods else []
        answer = {"topics": [row["location"]], "zones": zones}
        if row["kind"] == "display":
            # Beyond the protocol: what a display may subscribe to (`<room>/+`).
            answer["rooms"] = rooms_of(row)
        return answer

    def seen(self, row, now=None):
        """A device row was just used by the device: move its last_seen, unless it moved
        less than SEEN_RESOLUTION ago (its credentials call, shortly before its config
        call, wrote it already: a boot is one write, not two)."""
        now = now or time.time()
        if row["last_seen"] is None or not 0 <= now - row["last_seen"] < SEEN_RESOLUTION:
            self.touch(row["mac"], now)

    def touch(self, mac, when=None):
        """last_seen is a hint: a full disk must not cost a device its config."""
        try:
            self.db.execute("UPDATE devices SET last_seen=? WHERE mac=?", (when or time.time(), mac))
        except sqlite3.OperationalError as exc:
            self.write_failed(exc)

    def add_log(self, mac, form):
        record = {}
        for key in LOG_FIELDS:
            if key in form:
                record[key] = str(form[key])[:MAX_LOG_FIELD]
        if "msg" not in record:
            raise RegistryError("a log record needs at least `msg`")
        for key in ("levelno", "lineno"):
            if key in record:
                try:
                    record[key] = int(record[key])
                except ValueError:
                    raise RegistryError("%s must be an integer" % key) from None
        if "created" in record:
            try:
                record["created"] = float(record["created"])
            except ValueError:
                raise RegistryError("created must be a number") from None
        now = time.time()
        self.db.execute("INSERT INTO logs (mac, received_at, record) VALUES (?,?,?)",
                        (mac, now, json.dumps(record)))
        self.touch(mac, now)
        return record

    def logs(self, mac, limit=200):
        row = self._row(mac)
        out = []
        for r in self.db.execute("SELECT received_at, record FROM logs WHERE mac=? ORDER BY id DESC LIMIT ?",
                                 (row["mac"], limit)):
            rec = json.loads(r["record"])
            rec["received_at"] = r["received_at"]
            out.append(rec)
        out.reverse()
        return out

    # -- broker side ------------------------------------------------------
    def logins(self):
        return [r[0] for r in self.db.execute("SELECT login FROM devices")]

    def broker_account(self, login):
        """(location, enabled, mosquitto-format hash or None, rooms) of a device login,
        or None; rooms is the list a display shows, None for other kinds."""
        r = self.db.execute("SELECT location, enabled, broker_hash, kind, rooms FROM devices WHERE login=?",
                            (login,)).fetchone()
        return None if r is None else (r["location"], bool(r["enabled"]), r["broker_hash"], rooms_of(r))

    # -- collector side ---------------------------------------------------
    def locations(self):
        """(location topic, MAC) of every registered device."""
        return self.db.execute("SELECT location, mac FROM devices").fetchall()

    def store_readings(self, rows):
        """rows: (topic, building, room, module, unit_id, sub_id, value_json, units, seq, received_at[, epoch])."""
        return self.store_batch(rows, ())

    def stored_value(self, topic, unit_id, sub_id, epoch, seq):
        """The value (JSON text) stored under a reading's unique key, or None."""
        row = self.db.execute(_STORED_VALUE, (topic, unit_id, sub_id or "", epoch, seq)).fetchone()
        return None if row is None else row[0]

    def seq_counts(self):
        """{device: [epoch, last seq, received, missing, duplicates, restarts]} (seqcount.py)."""
        return {r[0]: list(r[1:]) for r in self.db.execute("SELECT * FROM seq_counts")}

    def store_batch(self, rows, statuses, counts=None):
        """Readings and statuses ((topic, unit_id, payload, received_at)) in one
        transaction: -> (readings stored, indexes of rows SQLite refused).

        A reading already stored (same topic, unitID, subID, epoch, seq) is skipped.
        A row SQLite refuses costs only itself: the batch is then retried row by row.
        counts(refused) -> rows of seq_counts to save in the same transaction.
        sqlite3.OperationalError (disk full, I/O error) leaves nothing written and
        propagates: the caller keeps the batch for later."""
        rows = [r if len(r) == 11 else tuple(r) + (0,) for r in rows]
        try:
            with self.db:
                self.db.execute("BEGIN")
                before = self.db.total_changes
                self.db.executemany(_INSERT_READING, rows)
                stored = self.db.total_changes - before
                self._store_statuses(statuses)
                if counts is not None:
                    self.db.executemany(_SAVE_COUNTS, counts(()))
            return stored, []
        except sqlite3.OperationalError:
            raise
        except _ROW_ERRORS:
            pass
        stored, refused = 0, []
        with self.db:
            self.db.execute("BEGIN")
            for i, row in enumerate(rows):
                self.db.execute("SAVEPOINT one_row")
                try:
                    stored += self.db.execute(_INSERT_READING, row).rowcount
                except sqlite3.OperationalError:
                    raise
                except _ROW_ERRORS:
                    refused.append(i)
                    self.db.execute("ROLLBACK TO one_row")
                self.db.execute("RELEASE one_row")
            self._store_statuses(statuses)
            if counts is not None:
                self.db.executemany(_SAVE_COUNTS, counts(refused))
        return stored, refused

    def _store_statuses(self, statuses):
        for topic, unit_id, payload, received_at in statuses:
            self.db.execute("INSERT OR REPLACE INTO statuses (topic, unit_id, received_at, payload)"
                            " VALUES (?,?,?,?)", (topic, unit_id, received_at, json.dumps(payload)))
            if topic.endswith("/device"):
                try:
                    mac = mac_stored(unit_id)
                except ValueError:
                    continue
                self.db.execute("UPDATE devices SET last_seen=? WHERE mac=? AND location=?",
                                (received_at, mac, topic.rsplit("/", 1)[0]))

    def store_status(self, topic, unit_id, payload, received_at):
        with self.db:
            self.db.execute("BEGIN")
            self._store_statuses([(topic, unit_id, payload, received_at)])

    def status(self, mac):
        row = self._row(mac)
        mac_wire = row["mac"].lower()
        out = {}
        for r in self.db.execute("SELECT topic, unit_id, received_at, payload FROM statuses"
                                 " WHERE substr(topic, 1, ?) = ? ORDER BY topic",
                                 (len(row["location"]) + 1, row["location"] + "/")):
            module = r["topic"].rsplit("/", 1)[1]
            if module == "device" and r["unit_id"].lower() != mac_wire:
                continue
            if module != "device" and not r["unit_id"].endswith(mac_wire.replace(":", "")[-4:]):
                continue
            item = json.loads(r["payload"])
            item["received_at"] = r["received_at"]
            out[module] = item
        return {"mac": row["mac"], "last_seen": row["last_seen"], "device": out.pop("device", None),
                "modules": out}

    def readings(self, topic=None, unit=None, since=None, limit=None, after=None):
        sql = ["SELECT * FROM readings WHERE 1=1"]
        args = []
        if topic:
            topic = topic.strip("/")
            sql.append("AND (topic = ? OR substr(topic, 1, ?) = ?)")
            args += [topic, len(topic) + 1, topic + "/"]
        if unit:
            sql.append("AND unit_id = ?")
            args.append(unit)
        if since is not None:
            sql.append("AND received_at > ?")
            args.append(float(since))
        if after is not None:
            sql.append("AND id > ?")
            args.append(int(after))
        limit = 1000 if limit is None else max(1, min(int(limit), 100000))
        # The newest `limit` rows, returned oldest first.
        sql.append("ORDER BY id DESC LIMIT ?")
        args.append(limit)
        rows = [reading_dict(r) for r in self.db.execute(" ".join(sql), args)]
        rows.reverse()
        return rows

    def latest_per_sensor(self, per_sensor=20):
        """For the live page: the last `per_sensor` values of every topic/unitID/subID."""
        out = {}
        for r in self.db.execute("SELECT * FROM readings WHERE id > (SELECT COALESCE(MAX(id), 0) FROM readings)"
                                 " - 5000 ORDER BY id"):
            d = reading_dict(r)
            key = "%s/%s/%s" % (d["topic"], d["unitID"], d["subID"] or "")
            out.setdefault(key, []).append(d)
        return {k: v[-per_sensor:] for k, v in out.items()}

    def count_readings(self):
        return self.db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]


def claim_deadline(window):
    if window is None:
        return None
    if isinstance(window, bool) or not isinstance(window, (int, float)) or not 0 < window <= 366 * 86400:
        raise RegistryError("claim_window must be a number of seconds, up to 366 days")
    return time.time() + window


def rooms_of(row):
    """The rooms a display shows (location topics), None for other kinds."""
    if row["kind"] != "display":
        return None
    return json.loads(row["rooms"]) if row["rooms"] else [row["location"]]


def reading_dict(r):
    d = {"id": r["id"], "topic": r["topic"], "building": r["building"], "room": r["room"],
         "module": r["module"], "unitID": r["unit_id"], "subID": r["sub_id"], "value": json.loads(r["value"]),
         "value_units": r["value_units"], "received_at": r["received_at"]}
    if r["seq"] is not None:
        d["seq"] = r["seq"]
    return d
