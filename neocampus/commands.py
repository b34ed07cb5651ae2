"""Orders received on <base>/<module>/command (protocol document section 3).

    {"dest": "all" | <unitID, any case>, "order": "...", "value": ...}

parse() returns None for a command meant for another unit (not an error: every
module of a location hears every command), an (order, value) tuple for us
(value None for orders that take none), and raises CommandError (that is,
ValueError) with a message fit for the console for anything malformed.
A frequency is returned as given (int seconds > 0): the caller clamps it to
the module's range with policy.clamp_frequency().

Changes from core_contract.md (additive only):
- parse() takes an optional `module` argument; without it, any known order
  passes. `unit_ids` may be one string or a list.
- noise values: sensitivity is a percentage 0..100, threshold a 12-bit DAC
  code 0..4095 (MCP47x6); out of range is a CommandError.

The board runs this from ROM: code is free, but every object the module
creates stays on the heap (some 30-60 B for each function, string over 10
characters, float or tuple constant; a class ~230 B). Hence one validation
function, messages sharing "%s must be %s, not %r", orders kept in a string,
a tuple for a command and ValueError for its errors.
"""
import json

from neocampus import table

MAX_SIZE = 512


CommandError = ValueError  # a name, not a class of its own


def orders_for(module):
    """The orders `module` takes (neocampus.table); None: every known order."""
    return (table.ALL_ORDERS if module is None else table.row(module)[table.ORDERS]).split()


def parse(payload, unit_ids, module=None):
    """(order, value) for us, None when `dest` names someone else, CommandError otherwise."""
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
        raise CommandError("%s must be %s, not %r" % ("dest", "a unit ID", dest))
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
        raise CommandError("%s must be %s, not %r" % ("order", "a string", order))
    if order not in orders_for(module):
        raise CommandError("unknown order %r for module %s" % (order, module or "(any)"))
    v = doc.get("value")
    if order == "upgrade":
        if v == "":
            v = None
        if v is None or isinstance(v, str) and (v.startswith("http://") or v.startswith("https://")):
            return order, v
        raise CommandError("%s must be %s, not %r" % (order, "a web URL", v))
    if order == "status" or order == "acquire" or order == "restart" or order == "reboot":
        return order, None  # no value to take
    # The numeric orders' upper bound; the last is sensitivity's.
    high = 86400 if order == "frequency" else 4095 if order == "threshold" else 100
    n = v
    if isinstance(v, str):
        try:
            n = float(v) if "." in v else int(v)
        except ValueError:
            pass  # still a str: refused just below, with the text as given
    if isinstance(n, bool) or not isinstance(n, (int, float)):
        raise CommandError("%s value %r is not a number" % (order, v))
    if n - n != 0:
        raise CommandError("%s must be %s, not %r" % (order, "finite", n))
    if order == "frequency":
        if n <= 0:
            raise CommandError("%s must be %s, not %r" % (order, "> 0 s", n))
        # Anything above a day is clamped by the module range anyway; keep it a small int.
        n = min(n, high)
    elif not 0 <= n <= high:
        raise CommandError("%s must be %s, not %r" % (order, "in 0..%d" % high, n))
    # Rounded half up as int(n + 0.5) would (2n + 1 rounds as 2 * (n + 0.5)),
    # without a float constant.
    return order, int(n * 2 + 1) // 2
