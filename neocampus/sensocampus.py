"""sensOCampus handshake client (protocol document section 1), transport injected.

    http(method, url, headers=None, body=None) -> (status, body_bytes)   # may raise OSError

Every boot: credentials() (GET /device/credentials?mac=aa:bb:..), persist what
it returns when it changed, then config() (GET /device/config, Basic auth).
Network errors (OSError) propagate: the caller retries on retry_delays().

Changes from core_contract.md (additive only):
- credentials(..., server=None, port=None): the device's own broker, used
  when the server sends no per-device override (so a removed override does
  not stick). The returned dict keeps any other key of `stored`.
- parse_config(doc), basic_auth(login, password), log(...) (POST
  /device/logger) are public too.
- sandbox_session(ap_name, server=None, port=None) -> (creds dict, Config).
- retry_delays() returns a list of `tries` waits in seconds (float): the
  wait after failed try i is step*(i+1) + jitter()*step; after the last
  one the caller resets the board.
"""
import json
from binascii import b2a_base64

from neocampus.ids import mac_wire

DEFAULT_URL = "https://sensocampus.univ-tlse3.fr"
SANDBOX_LOGIN = "test"


class SensocampusError(Exception):
    pass


class Unregistered(SensocampusError):
    pass


class AuthRefused(SensocampusError):
    pass


class NoPassword(SensocampusError):
    pass


class ProtocolError(SensocampusError):
    pass


def basic_auth(login, password):
    token = b2a_base64(("%s:%s" % (login, password)).encode())
    return "Basic " + token.decode().strip()


def _url(base_url, path):
    return base_url.rstrip("/") + path


def _json(status, body, what):
    if status != 200:
        raise SensocampusError("%s: HTTP %d" % (what, status))
    try:
        doc = json.loads(body)
    except Exception:
        raise ProtocolError("%s: the answer is not JSON" % what)
    if not isinstance(doc, dict):
        raise ProtocolError("%s: the answer is not a JSON object" % what)
    return doc


def _port(v):
    try:
        v = int(v)
    except (TypeError, ValueError):
        raise ProtocolError("credentials: bad broker port %r" % (v,))
    if not 0 < v < 65536:
        raise ProtocolError("credentials: broker port %d out of range" % v)
    return v


def credentials(http, base_url, mac, stored, server=None, port=None):
    """(dict to persist in /sensocampus.json, changed flag)."""
    mac = mac_wire(mac)
    status, body = http("GET", _url(base_url, "/device/credentials?mac=" + mac))
    if status == 403:
        raise Unregistered("device %s is not registered on sensOCampus (HTTP 403): "
                           "an admin must add this MAC" % mac)
    doc = _json(status, body, "credentials")
    login = doc.get("login")
    if not isinstance(login, str) or not login:
        raise ProtocolError("credentials: no login in the answer")
    password = doc.get("password")
    if password is not None and (not isinstance(password, str) or not password):
        raise ProtocolError("credentials: bad password in the answer")
    stored = stored if isinstance(stored, dict) else {}
    if password is None:
        old = stored.get("mqtt_passwd")
        if stored.get("mqtt_login") != login or not isinstance(old, str) or not old:
            raise NoPassword("sensOCampus sent no password for %s and none is stored for it: "
                             "an admin must reset this device's credentials" % login)
        password = old
    new = dict(stored)
    new["mqtt_login"] = login
    new["mqtt_passwd"] = password
    srv = doc.get("server")
    if srv is not None and (not isinstance(srv, str) or not srv):
        raise ProtocolError("credentials: bad broker server %r" % (srv,))
    new["mqtt_server"] = srv or server
    p = doc.get("port")
    new["mqtt_port"] = port if p is None else _port(p)
    changed = False
    for k in ("mqtt_login", "mqtt_passwd", "mqtt_server", "mqtt_port"):
        if stored.get(k) != new[k]:
            changed = True
    return new, changed


class Config:
    """topics, zones as sent; base_topic = topics[0] (None when unconfigured);
    modules of zones[0], each {"module", "unit", "frequency", "driver", "params": {}}."""

    def __init__(self, topics, zones, modules):
        self.topics = topics
        self.zones = zones
        self.modules = modules
        self.base_topic = topics[0] if topics else None

    def module(self, name):
        for m in self.modules:
            if m["module"] == name:
                return m
        return None


def _opt_str(m, key):
    v = m.get(key)
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise ProtocolError("config: module %s has a non-string %s" % (m.get("module"), key))
    return v


def _module(m):
    if not isinstance(m, dict) or not isinstance(m.get("module"), str) or not m["module"]:
        raise ProtocolError("config: a module entry has no module name")
    freq = m.get("frequency")
    if freq is not None:
        if isinstance(freq, bool) or not isinstance(freq, (int, float)) or freq - freq != 0:
            raise ProtocolError("config: module %s has a bad frequency %r" % (m["module"], freq))
        freq = int(freq)
    params = {}
    raw = m.get("params") or []
    if isinstance(raw, dict):
        params.update(raw)
    elif isinstance(raw, list):
        for p in raw:
            if not isinstance(p, dict) or not isinstance(p.get("param"), str):
                raise ProtocolError("config: module %s has a bad param entry" % m["module"])
            params[p["param"]] = p.get("value")
    else:
        raise ProtocolError("config: module %s has bad params" % m["module"])
    return {"module": m["module"], "unit": _opt_str(m, "unit"), "frequency": freq,
            "driver": _opt_str(m, "driver"), "params": params}


def parse_config(doc):
    if not isinstance(doc, dict):
        raise ProtocolError("config: not a JSON object")
    topics = doc.get("topics") or []
    zones = doc.get("zones") or []
    if not isinstance(topics, list) or not isinstance(zones, list):
        raise ProtocolError("config: topics and zones must be lists")
    for t in topics:
        if not isinstance(t, str) or not t:
            raise ProtocolError("config: a topic is not a string")
    modules = []
    if zones:
        zone = zones[0]
        mods = zone.get("modules") if isinstance(zone, dict) else None
        if mods is None:
            mods = []
        if not isinstance(zone, dict) or not isinstance(mods, list):
            raise ProtocolError("config: zones[0] must be an object with a modules list")
        for m in mods:
            modules.append(_module(m))
    return Config(topics, zones, modules)


def config(http, base_url, login, password):
    status, body = http("GET", _url(base_url, "/device/config"),
                        {"Authorization": basic_auth(login, password)})
    if status in (401, 403):
        raise AuthRefused("sensOCampus refused %s (HTTP %d): wrong password or device disabled"
                          % (login, status))
    return parse_config(_json(status, body, "config"))


_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


def _quote(s):
    out = []
    for b in str(s).encode():
        c = chr(b)
        if c in _SAFE:
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def log(http, base_url, login, password, msg, levelname="INFO", levelno=20, name="neosensor",
        module="", funcName="", lineno=0, created=0):
    """POST one logging record to /device/logger; returns the HTTP status."""
    fields = (("levelno", levelno), ("levelname", levelname), ("name", name), ("module", module),
              ("funcName", funcName), ("lineno", lineno), ("msg", msg), ("created", created))
    body = "&".join([k + "=" + _quote(v) for k, v in fields]).encode()
    status, _ = http("POST", _url(base_url, "/device/logger"),
                     {"Authorization": basic_auth(login, password),
                      "Content-Type": "application/x-www-form-urlencoded"}, body)
    return status


def _random():
    import random
    try:
        return random.random()
    except AttributeError:  # ports built without the extra random functions
        return random.getrandbits(16) / 65536


def retry_delays(tries=5, step=10, jitter=None):
    """Waits (s) after each failed try: the historic 10, 20, 30... plus up to
    one step of random jitter, so that a campus-wide power cut does not make
    hundreds of boards retry in lockstep."""
    rand = jitter or _random
    return [step * (i + 1) + rand() * step for i in range(tries)]


def sandbox_session(ap_name, server=None, port=None):
    """Sandbox mode skips sensOCampus: login test/test, base topic TestTopic/<APname>."""
    creds = {"mqtt_login": SANDBOX_LOGIN, "mqtt_passwd": SANDBOX_LOGIN,
             "mqtt_server": server, "mqtt_port": port}
    return creds, Config(["TestTopic/" + ap_name], [], [])
