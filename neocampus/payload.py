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

The board runs this from ROM: code is free, but every object the module
creates stays on the heap (some 30-60 B for each function, string over 10
characters, float or tuple constant). Hence no private helpers (their few
lines are repeated instead), errors sharing "%s must be %s, not %r", and
names split from a string rather than kept as a constant tuple.
"""
from neocampus import table


def fixed3(v):
    """Text of v rounded to 3 decimals: 21.375, 21.0, -5.063, 0.001."""
    # Two isinstance() calls: a tuple (int, float) would be built at every call.
    if isinstance(v, bool) or not (isinstance(v, int) or isinstance(v, float)):
        raise ValueError("%s must be %s, not %r" % ("value", "a number", v))
    if v - v != 0:  # NaN and infinities: JSON cannot carry them
        raise ValueError("%s must be %s, not %r" % ("value", "finite", v))
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
    # Loops, not comprehensions: on a board each comprehension is one more
    # code object kept in the heap (~64 B here).
    out = []
    if isinstance(v, list) or isinstance(v, tuple):
        for x in v:
            out.append(encode(x))
        return "[" + ", ".join(out) + "]"
    if isinstance(v, dict):
        for k in sorted(v):
            out.append(quote(k) + ": " + encode(v[k]))
        return "{" + ", ".join(out) + "}"
    raise ValueError("%s must be %s, not %r" % ("value", "JSON-able", v))


def reading(module, value, unit_id, sub_id=None, seq=None, timestamp=None, joined=True, **extra):
    """One reading as JSON text. `sub_id` is the I2C address (int, sent as its
    decimal string) or a name ("co2", "pm2_5"). `seq` and `timestamp` (UNIX
    seconds, None until NTP succeeded) are additive fields. Noise and digital
    take `input=<pin>`, digital also `type=...`. joined=False gives the list
    of parts whose concatenation is the text."""
    if not isinstance(unit_id, str) or not unit_id:
        raise ValueError("%s must be %s, not %r" % ("unit_id", "a name", unit_id))
    row = table.MODULES.get(module)
    fmt = row and row[table.VALUE]
    if not fmt:
        raise ValueError("%s must be %s, not %r" % ("module", "known", module))
    units = row[table.UNITS]
    if module == "airquality":
        if sub_id is None:
            raise ValueError("%s must be %s, not %r" % ("subID", "a name", sub_id))
        if str(sub_id).lower().startswith("pm"):  # particles: the table's row is CO2's
            units, fmt = "µg/m3", "float3"
    if fmt == "int":
        if isinstance(value, float):
            if value - value != 0:
                raise ValueError("%s must be %s, not %r" % ("value", "finite", value))
            n = int(abs(value) + 0.5)
            value = -n if value < 0 else n
        elif isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("%s must be %s, not %r" % ("value", "a number", value))
        text = "%d" % value
    elif fmt == "float3":
        text = fixed3(value)
    else:  # "bool"
        if not isinstance(value, bool):
            raise ValueError("%s must be %s, not %r" % ("value", "a bool", value))
        text = encode(value)
    pin = extra.pop("input", None)
    kind = extra.pop("type", None)
    if pin is None and (module == "noise" or module == "digital"):
        raise ValueError("%s must be %s, not %r" % ("input", "a pin", pin))
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
    # From here on as in status(). Every part after the first carries its ", ".
    if extra:
        for k in sorted(extra):
            if extra[k] is not None:
                parts.append(", " + quote(k) + ": " + encode(extra[k]))
    parts[0] = "{" + parts[0]
    parts.append("}")
    # A board writes the parts to its socket one by one (joined=False): no
    # payload then needs one contiguous block of a fragmented heap.
    return "".join(parts) if joined else parts


def _pack(parts, k, v):
    # Fields are packed into parts of about 64 characters: a device status
    # then is ~6 parts, whose list fits in 64 bytes (one part per field made
    # a list of 16 slots, a 128-byte block a fragmented heap may not have).
    text = ", " + quote(k) + ": " + encode(v)
    if len(parts[-1]) + len(text) <= 64:
        parts[-1] += text
    else:
        parts.append(text)


def status(module, frequency, sensors, time_str, unit_id=None, joined=True, fields=(), **extra):
    """Status of a module: frequency, sensors, time; the device module adds
    status, modules, heap, hardware, firmware, board (passed as keywords).
    `fields`: names and values, alternating, written in their order after
    time (a board's way: a dozen keywords would cost it a dict of 200 bytes,
    a dozen (name, value) pairs 400 B at the peak of its loop).
    joined=False: the list of parts, as reading()."""
    # Keys go through '"%s": %s', an interned string: '"frequency": ' would be one more on the heap.
    head = "{" if unit_id is None else '{"unitID": ' + quote(unit_id) + ", "
    parts = [head + '"%s": %s' % ("frequency", encode(frequency)),
             ', "%s": %s' % ("sensors", encode(sensors)) + ', "time": ' + quote(time_str)]
    for i in range(0, len(fields) - 1, 2):
        _pack(parts, fields[i], fields[i + 1])
    if module == "device" and extra:
        # Split at each device status (the words are interned: only the list is
        # allocated): a constant tuple would keep ~160 B of heap.
        for k in "status modules heap hardware firmware board".split():
            v = extra.pop(k, None)
            if v is not None:
                _pack(parts, k, v)
    for k in sorted(extra):
        if extra[k] is not None:
            _pack(parts, k, extra[k])
    parts[-1] += "}"
    return "".join(parts) if joined else parts


def format_time(t, tz_minutes=0):
    """'%Y-%m-%d %H:%M:%S %z' from a time tuple (MicroPython has no strftime)."""
    sign = "-" if tz_minutes < 0 else "+"
    tz = abs(tz_minutes)
    return "%04d-%02d-%02d %02d:%02d:%02d %s%02d%02d" % (
        t[0], t[1], t[2], t[3], t[4], t[5], sign, tz // 60, tz % 60)
