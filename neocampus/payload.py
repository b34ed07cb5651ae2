"""Payloads in their exact wire form (protocol document section 3).

The JSON text is built by hand, not with json.dumps: MicroPython's dumps
orders dict keys by hash and writes non-ASCII raw while CPython escapes it,
so the same reading would not give the same bytes on a board and on a Pi.
Here key order is fixed, separators are ", " and ": " (CPython's default),
non-ASCII is sent raw as UTF-8 (as the historic firmware did: "µg/m3").

Rounding goes through integers so that a board with 32-bit (or 30-bit)
floats prints 21.375 exactly like a 64-bit host: 3 decimals, half away
from zero, trailing zeros dropped but a float keeps its ".0".

Changes from core_contract.md (additive only):
- status() takes an optional `unit_id` keyword (every message carries unitID).
- format_time() takes an optional `tz_minutes` offset for %z.
"""

UNITS = {
    "temperature": "celsius",
    "humidity": "%r.H.",
    "luminosity": "lux",
    "noise": "pulses",
    "airquality": "ppm",  # "µg/m3" for particle subIDs, see _airquality_unit
}

_NUM = (int, float)  # built once: a tuple literal of names is rebuilt at every call

# Fields of the device status, in wire order.
_DEVICE_FIELDS = ("status", "modules", "heap", "hardware", "firmware", "board")


def _number(v):
    if isinstance(v, bool) or not isinstance(v, _NUM):
        raise ValueError("value must be a number, not %r" % (v,))
    if v - v != 0:  # NaN and infinities: JSON cannot carry them
        raise ValueError("value must be finite, not %r" % (v,))
    return v


def _round_int(v):
    v = _number(v)
    if isinstance(v, int):
        return v
    n = int(abs(v) + 0.5)
    return -n if v < 0 else n


def fixed3(v):
    """Text of v rounded to 3 decimals: 21.375, 21.0, -5.063, 0.001."""
    v = _number(v)
    n = int(abs(v) * 1000 + 0.5)
    ip = n // 1000
    fp = n - ip * 1000
    if fp:
        frac = "%03d" % fp
        while frac[-1] == "0":
            frac = frac[:-1]
    else:
        frac = "0"
    return "%s%d.%s" % ("-" if v < 0 and n else "", ip, frac)


def quote(s):
    """JSON string literal; only quote, backslash and control characters escaped."""
    for c in s:
        if c == '"' or c == "\\" or c < " ":
            break
    else:
        return '"' + s + '"'
    out = []
    for c in s:
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif c < " ":
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def encode(v):
    """Deterministic JSON for status fields and extras: floats as fixed3,
    dict keys sorted."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return "%d" % v
    if isinstance(v, float):
        return fixed3(v)
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join([encode(x) for x in v]) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join([quote(k) + ": " + encode(v[k]) for k in sorted(v)]) + "}"
    raise ValueError("cannot encode %r as JSON" % (v,))


def _airquality_unit(sub_id):
    return "µg/m3" if str(sub_id).lower().startswith("pm") else "ppm"


def _close(parts, extra, joined):
    # Every part after the first carries its ", " separator.
    if extra:
        for k in sorted(extra):
            if extra[k] is not None:
                parts.append(", " + quote(k) + ": " + encode(extra[k]))
    parts[0] = "{" + parts[0]
    parts.append("}")
    # A board writes the parts to its socket one by one (joined=False): no
    # payload then needs one contiguous block of a fragmented heap.
    return "".join(parts) if joined else parts


def reading(module, value, unit_id, sub_id=None, seq=None, timestamp=None, joined=True, **extra):
    """One reading as JSON text. `sub_id` is the I2C address (int, sent as its
    decimal string) or a name ("co2", "pm2_5"). `seq` and `timestamp` (UNIX
    seconds, None until NTP succeeded) are additive fields. Noise and digital
    take `input=<pin>`, digital also `type=...`. joined=False gives the list
    of parts whose concatenation is the text."""
    if not isinstance(unit_id, str) or not unit_id:
        raise ValueError("unit_id must be a non-empty string")
    units = UNITS.get(module)
    if module == "temperature":
        text = fixed3(value)
    elif module in ("humidity", "luminosity", "noise"):
        text = "%d" % _round_int(value)
    elif module == "airquality":
        if sub_id is None:
            raise ValueError("airquality needs a subID (co2, pm2_5, ...)")
        units = _airquality_unit(sub_id)
        text = "%d" % _round_int(value) if str(sub_id).lower() == "co2" else fixed3(value)
    elif module == "digital":
        if not isinstance(value, bool):
            raise ValueError("digital value must be a bool, not %r" % (value,))
        text = encode(value)
    else:
        raise ValueError("no reading format for module %r" % (module,))
    pin = extra.pop("input", None)
    kind = extra.pop("type", None)
    if module in ("noise", "digital") and pin is None:
        raise ValueError("%s reading needs input=<pin>" % module)
    parts = ['"value": ' + text]
    if units is not None:
        parts.append(', "value_units": ' + quote(units))
    if pin is not None:
        parts.append(', "input": ' + encode(pin))
    if kind is not None:
        parts.append(', "type": ' + quote(kind))
    if sub_id is not None:
        parts.append(', "subID": ' + quote(sub_id if isinstance(sub_id, str) else "%d" % sub_id))
    parts.append(', "unitID": ' + quote(unit_id))
    if seq is not None:
        parts.append(', "seq": %d' % seq)
    if timestamp is not None:
        parts.append(', "timestamp": %d' % timestamp)
    return _close(parts, extra, joined)


def status(module, frequency, sensors, time_str, unit_id=None, joined=True, fields=(), **extra):
    """Status of a module: frequency, sensors, time; the device module adds
    status, modules, heap, hardware, firmware, board (passed as keywords).
    `fields`: (name, value) pairs written in their order after time (a
    board's way: a dozen keywords would cost it a dict of 200 bytes).
    joined=False: the list of parts, as reading()."""
    parts = ['"frequency": ' + encode(frequency)]
    if unit_id is not None:
        parts[0] = '"unitID": ' + quote(unit_id) + ", " + parts[0]
    parts.append(', "sensors": ' + encode(sensors))
    parts.append(', "time": ' + quote(time_str))
    for k, v in fields:
        parts.append(", " + quote(k) + ": " + encode(v))
    if module == "device":
        for k in _DEVICE_FIELDS:
            v = extra.pop(k, None)
            if v is not None:
                parts.append(', "%s": %s' % (k, encode(v)))
    return _close(parts, extra, joined)


def format_time(t, tz_minutes=0):
    """'%Y-%m-%d %H:%M:%S %z' from a time tuple (MicroPython has no strftime)."""
    sign = "-" if tz_minutes < 0 else "+"
    tz = abs(tz_minutes)
    return "%04d-%02d-%02d %02d:%02d:%02d %s%02d%02d" % (
        t[0], t[1], t[2], t[3], t[4], t[5], sign, tz // 60, tz % 60)
