"""The agent's TOML configuration (`/etc/neocampus/agent.toml`), read with
tomllib and checked whole at start: every mistake is a ConfigError naming its
key (`mqtt.port: must be an integer in 1..65535, not 'x'`), never a traceback
an hour later in the loop.

Unknown keys are errors too: a typo (`[sensor]` for `[sensors]`) would
otherwise be silently ignored and the Pi would publish nothing.
"""
import os
import tomllib

from neocampus import ids, table
from rpi_agent.outbox import SYNCS, WINDOWS

ROLES = ("sensors", "display", "concentrator")
INPUT_TYPES = ("presence", "open_close", "on_off")
OUTPUT_KINDS = ("led", "relay")
REGISTER_TYPES = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}
DEFAULT_STATE_DIR = "/var/lib/neocampus"
DEFAULT_CONFIG = "/etc/neocampus/agent.toml"


class ConfigError(ValueError):
    pass


class OptionError(ConfigError):
    """A bad command-line value: names the option and the value."""

    def __init__(self, option, value, why):
        super().__init__("%s %r: %s" % (option, value, why))
        self.option, self.value, self.why = option, value, why


def _fail(key, msg):
    raise ConfigError("%s: %s" % (key, msg))


class _Section:
    """Typed reads from one TOML table; remembers the keys it was asked for
    so that done() can refuse the others."""

    def __init__(self, doc, name):
        if not isinstance(doc, dict):
            _fail(name, "must be a table, not %r" % (doc,))
        self.doc, self.name, self.seen = doc, name, set()

    def key(self, k):
        return "%s.%s" % (self.name, k) if self.name else k

    def get(self, k, kind, default=None, check=None, what=None):
        self.seen.add(k)
        v = self.doc.get(k, default)
        if v is None:
            return None
        ok = isinstance(v, kind) and not (isinstance(v, bool) and kind is not bool)
        if ok and check is not None:
            ok = check(v)
        if not ok:
            _fail(self.key(k), "must be %s, not %r" % (what or kind.__name__, v))
        return v

    def section(self, k):
        self.seen.add(k)
        return _Section(self.doc.get(k, {}), self.key(k))

    def tables(self, k):
        self.seen.add(k)
        v = self.doc.get(k, [])
        if not isinstance(v, list):
            _fail(self.key(k), "must be an array of tables ([[%s]])" % self.key(k))
        return [_Section(t, "%s[%d]" % (self.key(k), i)) for i, t in enumerate(v)]

    def done(self):
        extra = sorted(set(self.doc) - self.seen)
        if extra:
            _fail(self.key(extra[0]), "unknown setting")


def _port(v):
    return 0 < v < 65536


def _listen(sec, k, default):
    v = sec.get(k, str, default, what='"HOST:PORT" (or "" to turn it off)')
    if not v:
        return None
    host, _, port = v.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:  # 0: any free port
        _fail(sec.key(k), 'must be "HOST:PORT", not %r' % v)
    return host, int(port)


def _url(v):
    return v.startswith("http://") or v.startswith("https://")


def _module(v):
    return v in table.MODULES and table.MODULES[v][table.VALUE] is not None


def _mac(sec, k):
    v = sec.get(k, str)
    if v:
        try:
            return ids.mac_wire(v)
        except ValueError as e:
            _fail(sec.key(k), str(e))
    return None


def _inputs(sec):
    out = []
    for t in sec.tables("inputs"):
        out.append({"pin": t.get("pin", int, check=lambda p: 0 <= p <= 53, what="a GPIO number 0..53"),
                    "type": t.get("type", str, "presence", lambda v: v in INPUT_TYPES,
                                  "one of " + ", ".join(INPUT_TYPES)),
                    "pull_up": t.get("pull_up", bool, False),
                    "name": t.get("name", str)})
        if out[-1]["pin"] is None:
            _fail(t.key("pin"), "is required")
        t.done()
    return out


def _outputs(sec):
    out = []
    for t in sec.tables("outputs"):
        o = {"name": t.get("name", str, check=lambda v: v != "", what="a name"),
             "pin": t.get("pin", int, check=lambda p: 0 <= p <= 53, what="a GPIO number 0..53"),
             "kind": t.get("kind", str, "relay", lambda v: v in OUTPUT_KINDS, "led or relay"),
             "active_high": t.get("active_high", bool, True)}
        for k in ("name", "pin"):
            if o[k] is None:
                _fail(t.key(k), "is required")
        if o["name"] in [x["name"] for x in out]:
            _fail(t.key("name"), "%r is used twice" % o["name"])
        t.done()
        out.append(o)
    return out


def _serial_common(t):
    return {"port": t.get("port", str, check=lambda v: v != "", what="a device path"),
            "baudrate": t.get("baudrate", int, 9600, lambda v: 50 <= v <= 4000000, "a baud rate"),
            "unit": t.get("unit", str, None, lambda v: v.isidentifier(), "a unit name (letters, digits, _)"),
            "silent_after": t.get("silent_after", (int, float), 60, lambda v: v > 0, "seconds > 0")}


def _registers(t):
    out = []
    for r in t.tables("registers"):
        reg = {"address": r.get("address", int, check=lambda v: 0 <= v <= 65535, what="a register 0..65535"),
               "type": r.get("type", str, "uint16", lambda v: v in REGISTER_TYPES,
                             "one of " + ", ".join(REGISTER_TYPES)),
               "table": r.get("table", str, "holding", lambda v: v in ("holding", "input"), "holding or input"),
               "scale": r.get("scale", (int, float), 1, what="a number"),
               "module": r.get("module", str, check=_module, what="a sensOCampus module with readings"),
               "subID": r.get("subID", str)}
        for k in ("address", "module", "subID"):
            if reg[k] is None:
                _fail(r.key(k), "is required")
        r.done()
        out.append(reg)
    if not out:
        _fail(t.key("registers"), "a Modbus device needs at least one [[...registers]] entry")
    return out


def _concentrator(sec):
    lines, devices = [], []
    for t in sec.tables("serial"):
        c = _serial_common(t)
        t.done()
        lines.append(c)
    for t in sec.tables("modbus"):
        c = _serial_common(t)
        c["device_id"] = t.get("device_id", int, 1, lambda v: 1 <= v <= 247, "a Modbus address 1..247")
        c["period"] = t.get("period", (int, float), 10, lambda v: v > 0, "seconds > 0")
        c["timeout"] = t.get("timeout", (int, float), 1, lambda v: v > 0, "seconds > 0")
        c["registers"] = _registers(t)
        t.done()
        devices.append(c)
    for c in lines + devices:
        if c["port"] is None:
            _fail(sec.key("port"), "every serial line and Modbus device needs a port")
    return {"serial": lines, "modbus": devices}


def parse(doc, simulate=False):
    """The checked config (a plain dict of dicts) from a TOML document.
    (simulate changes nothing here any more: a concentrator without lines
    starts either way, see notes().)"""
    top = _Section(doc, "")
    a = top.section("agent")
    state = a.get("state_dir", str, DEFAULT_STATE_DIR)
    cfg = {"agent": {
        "server": a.get("server", str, "https://sensocampus.univ-tlse3.fr", _url, "an http:// or https:// URL"),
        "mac": _mac(a, "mac"),
        "interfaces": a.get("interfaces", list, ["eth0", "wlan0"],
                            lambda v: all(isinstance(x, str) for x in v), "a list of interface names"),
        "roles": a.get("roles", list, ["sensors"], lambda v: bool(v) and all(r in ROLES for r in v),
                       "a non-empty list of " + ", ".join(ROLES)),
        "state_dir": state,
        "credentials": a.get("credentials", str, os.path.join(state, "credentials.json")),
        "log_level": a.get("log_level", str, "info",
                           lambda v: v in ("debug", "info", "warning", "error"), "debug, info, warning or error"),
        "log_to_server": a.get("log_to_server", bool, True),
        "handshake_retry": a.get("handshake_retry", (int, float), 10, lambda v: v > 0, "seconds > 0"),
    }}
    a.done()
    m = top.section("mqtt")
    cfg["mqtt"] = {
        "server": m.get("server", str, "neocampus.univ-tlse3.fr"),
        "port": m.get("port", int, 1883, _port, "an integer in 1..65535"),
        "tls": m.get("tls", bool, False),
        "ca_file": m.get("ca_file", str),
        "keepalive": m.get("keepalive", int, 60, lambda v: 5 <= v <= 3600, "seconds in 5..3600"),
        "backoff_max": m.get("backoff_max", (int, float), 60, lambda v: v >= 1, "seconds >= 1"),
    }
    m.done()
    if cfg["mqtt"]["ca_file"] and not os.path.isfile(cfg["mqtt"]["ca_file"]):
        _fail("mqtt.ca_file", "no such file: %s" % cfg["mqtt"]["ca_file"])
    o = top.section("outbox")
    cfg["outbox"] = {
        "path": o.get("path", str, os.path.join(state, "outbox.sqlite")),
        "max_readings": o.get("max_readings", int, 1000000, lambda v: v >= 10, "an integer >= 10"),
        "sync": o.get("sync", str, "ack", lambda v: v in SYNCS, ", ".join(SYNCS[:-1]) + " or " + SYNCS[-1]),
    }
    cfg["outbox"]["sync_window"] = float(o.get("sync_window", (int, float), WINDOWS.get(cfg["outbox"]["sync"], 1.0),
                                               lambda v: 0.01 <= v <= 60, "a number of seconds in 0.01..60"))
    o.done()
    x = top.section("metrics")
    cfg["metrics"] = {"listen": _listen(x, "listen", "127.0.0.1:9105")}
    x.done()
    s = top.section("sensors")
    cfg["sensors"] = {
        "bus": s.get("bus", int, 1, lambda v: 0 <= v <= 255, "an I2C bus number (1 for /dev/i2c-1)"),
        "inputs": _inputs(s), "outputs": _outputs(s)}
    s.done()
    c = top.section("concentrator")
    cfg["concentrator"] = _concentrator(c)
    c.done()
    d = top.section("display")
    cfg["display"] = {
        "rooms": d.get("rooms", list, [], lambda v: all(isinstance(r, str) and r.count("/") == 1 for r in v),
                       'a list of "building/room" topics'),
        "listen": _listen(d, "listen", "127.0.0.1:8080"),
        "title": d.get("title", str, ""),
    }
    d.done()
    top.done()
    return cfg


NO_LINES = ("concentrator: no [[concentrator.serial]] line and no [[concentrator.modbus]] device in the config: "
            "nothing is bridged until one is added (rpi_agent/README.md), then `systemctl restart neocampus-agent`")


def notes(cfg, simulate=False):
    """What a person should hear about a config that starts (the agent logs
    these as warnings, `neoc agent install` prints them). A concentrator with
    no line still starts: it registers, publishes its status (`lines` empty)
    and is reachable, where refusing would leave a freshly installed Pi
    failing in a loop until someone edits its file."""
    c = cfg["concentrator"]
    if "concentrator" in cfg["agent"]["roles"] and not simulate and not (c["serial"] or c["modbus"]):
        return [NO_LINES]
    return []


def serial_line(value):
    """--serial PORT[:BAUD] -> a [[concentrator.serial]] entry. Only a tail
    of digits is a baud rate: /dev/serial/by-path/ names hold colons."""
    port, sep, baud = value.rpartition(":")
    if not (sep and baud.isdigit()):
        port, baud = value, None
    if not port.startswith("/"):
        raise OptionError("--serial", value, "want PORT[:BAUD] with PORT a device path (/dev/ttyUSB0:115200)")
    line = {"port": port}
    if baud is not None:
        line["baudrate"] = int(baud)
    try:
        _serial_common(_Section(dict(line), ""))  # the same bounds as in the file
    except ConfigError as e:
        raise OptionError("--serial", value, str(e))
    return line


def read(path):
    """The TOML document in path, or a ConfigError naming the file."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError("%s: no such config file" % path)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("%s: not valid TOML: %s" % (path, e))
    except OSError as e:
        raise ConfigError("%s: cannot read it: %s" % (path, e.strerror))


def load(path, simulate=False, overrides=None):
    """Read, override (CLI options as {"agent.server": url, ...}) and check."""
    doc = read(path) if path is not None else {}
    for dotted, v in (overrides or {}).items():
        if v is None:
            continue
        sec, _, k = dotted.partition(".")
        doc.setdefault(sec, {})
        if not isinstance(doc[sec], dict):
            raise ConfigError("%s: must be a table" % sec)
        doc[sec][k] = v
    return parse(doc, simulate)
