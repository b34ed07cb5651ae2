"""Orders received on <base>/<module>/command (protocol document section 3).

    {"dest": "all" | <unitID, any case>, "order": "...", "value": ...}

parse() returns None for a command meant for another unit (not an error: every
module of a location hears every command), a Command for us, and raises
CommandError with a message fit for the console for anything malformed.
A frequency is returned as given (int seconds > 0): the caller clamps it to
the module's range with policy.clamp_frequency().

Changes from core_contract.md (additive only):
- parse() takes an optional `module` argument; without it, any known order
  passes. `unit_ids` may be one string or a list.
- noise values: sensitivity is a percentage 0..100, threshold a 12-bit DAC
  code 0..4095 (MCP47x6); out of range is a CommandError.
"""
import json

MAX_SIZE = 512

SENSOR_ORDERS = ("status", "acquire", "frequency")
NOISE_ORDERS = SENSOR_ORDERS + ("sensitivity", "threshold")
DEVICE_ORDERS = ("status", "frequency", "restart", "reboot", "upgrade")

# Orders whose value must be an integer in [low, high].
_INT_RANGES = {"sensitivity": (0, 100), "threshold": (0, 4095)}


class CommandError(ValueError):
    pass


class Command:
    def __init__(self, order, value=None):
        self.order = order
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Command) and self.order == other.order and self.value == other.value

    def __repr__(self):
        return "Command(%r, %r)" % (self.order, self.value)


def orders_for(module):
    if module == "device":
        return DEVICE_ORDERS
    if module == "noise":
        return NOISE_ORDERS
    if module is None:
        return DEVICE_ORDERS + NOISE_ORDERS
    return SENSOR_ORDERS


def _number(order, v):
    if isinstance(v, str):
        try:
            v = float(v) if "." in v else int(v)
        except ValueError:
            raise CommandError("%s value %r is not a number" % (order, v))
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise CommandError("%s value must be a number, not %r" % (order, v))
    if v - v != 0:
        raise CommandError("%s value must be finite" % order)
    return v


def _value(order, v):
    if order == "frequency":
        v = _number(order, v)
        if v <= 0:
            raise CommandError("frequency must be > 0 s, not %r" % (v,))
        # Anything above a day is clamped by the module range anyway; keep it a small int.
        return int(min(v, 86400) + 0.5)
    if order in _INT_RANGES:
        v = _number(order, v)
        low, high = _INT_RANGES[order]
        if not low <= v <= high:
            raise CommandError("%s must be in %d..%d, not %r" % (order, low, high, v))
        return int(v + 0.5)
    if order == "upgrade":
        if v is None or v == "":
            return None
        if not isinstance(v, str) or not (v.startswith("http://") or v.startswith("https://")):
            raise CommandError("upgrade value must be an http(s) URL, not %r" % (v,))
        return v
    return None  # status, acquire, restart, reboot take no value


def parse(payload, unit_ids, module=None):
    """Command for us, None when `dest` names someone else, CommandError otherwise."""
    if not isinstance(payload, (bytes, bytearray, str)):
        raise CommandError("command payload must be bytes or str")
    if len(payload) > MAX_SIZE:
        raise CommandError("command too long: %d bytes (max %d)" % (len(payload), MAX_SIZE))
    try:
        doc = json.loads(payload)
    except Exception:
        raise CommandError("command is not JSON")
    if not isinstance(doc, dict):
        raise CommandError("command must be a JSON object")
    dest = doc.get("dest")
    if not isinstance(dest, str) or not dest:
        raise CommandError("command needs a string dest")
    dest = dest.lower()
    if dest != "all":
        if isinstance(unit_ids, str):
            unit_ids = (unit_ids,)
        for uid in unit_ids:
            if uid.lower() == dest:
                break
        else:
            return None
    order = doc.get("order")
    if not isinstance(order, str):
        raise CommandError("command needs a string order")
    if order not in orders_for(module):
        raise CommandError("unknown order %r for module %s" % (order, module or "(any)"))
    return Command(order, _value(order, doc.get("value")))
