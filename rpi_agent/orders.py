"""Orders received on <base>/<module>/command, parsed by neocampus.commands
(through Module.command) exactly as on the firmware, plus the agent's own
`set` order of the digital module, which drives a gpiozero output:

    {"dest": "all" | <unitID>, "order": "set", "value": true, "output": "relay1"}

(`output` may be left out when the Pi has a single output). Everything
malformed is refused with a reason, counted in the module's `errors` (the
status's cmd_errors), never raised into the loop.
"""
import json

from neocampus import commands


def parse_set(raw, unit_id, outputs):
    """None when `raw` is not a set order (it then goes to Module.command),
    ("foreign", None) when meant for another unit, ("set", (name, value)),
    or CommandError (ValueError) when it is a set order gone wrong."""
    if not isinstance(raw, (bytes, bytearray, str)) or len(raw) > commands.MAX_SIZE:
        return None  # the shared parser says why
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("order") != "set":
        return None
    dest = doc.get("dest")
    if not isinstance(dest, str) or not dest:
        raise commands.CommandError("dest must be a unit ID, not %r" % (dest,))
    if dest.lower() not in ("all", unit_id.lower()):
        return "foreign", None
    value = doc.get("value")
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        value = bool(value)
    if not isinstance(value, bool):
        raise commands.CommandError("set value must be true or false, not %r" % (value,))
    name = doc.get("output")
    if name is None and len(outputs) == 1:
        name = next(iter(outputs))
    if not isinstance(name, str) or name not in outputs:
        raise commands.CommandError("set: no output %r here (outputs: %s)"
                                    % (name, ", ".join(sorted(outputs)) or "none"))
    return "set", (name, value)


def module_of(topic, base):
    """The module name of a command topic <base>/<module>/command, or None."""
    if not isinstance(topic, str) or not topic.startswith(base + "/") or not topic.endswith("/command"):
        return None
    name = topic[len(base) + 1:-len("/command")]
    return name if name and "/" not in name else None
