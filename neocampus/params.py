"""The numbers of a module's publishing policy, from its config's params,
checked once (neocampus/policy.py uses them; a Module checks them at set-up
and shares the result among its sensors' policies).

A param of the wrong type or out of range keeps its default and its name is
listed as ignored (for the status), never an exception. Set-up work only: a
board runs it in its set-up phase (checked() goes into its plan) and never
loads it in its loop.
"""
from neocampus import policy

# name: (default, low, high, index in policy's settings layout); seconds and
# percent as in the config.
PARAMS = {
    "stable_reads": (7, 2, 50, policy.S_READS),
    "stable_pct": (1.5, 0, 50, policy.S_PCT),
    "stable_abs": (0.15, 0, 1000, policy.S_ABS),
    "delta": (0.15, 0, 100000, policy.S_DELTA),
    "forced": (1800, 60, 86400, policy.S_FORCED),
    "read_period": (1.25, 0.05, 60, policy.S_READ),
    "burst_period": (0.15, 0.02, 5, policy.S_BURST),
    "burst_time": (2, 0, 30, policy.S_BURST_TIME),
}
# Integer-valued sensors jitter by whole units in the dark or in clean air.
_ABS_FLOOR = {"luminosity": 1, "airquality": 1}
_MS = ("forced", "read_period", "burst_period", "burst_time")


def settings(module, params=None):
    """The module's params, checked once, in the layout policy.py names
    (S_READS ... S_IGNORED): times in integer ms, stable_pct a fraction, and
    the names of the params ignored. A Module shares one among its sensors."""
    params = params or {}
    out = [None] * (policy.S_IGNORED + 1)
    ignored = []
    for name in sorted(PARAMS):
        d, low, high, index = PARAMS[name]
        if name == "stable_abs":
            d = _ABS_FLOOR.get(module, d)
        v = params.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high):
            ignored.append(name)
            v = None
        v = d if v is None else v
        out[index] = (int(v) if name == "stable_reads" else v / 100 if name == "stable_pct"
                      else int(v * 1000) if name in _MS else v)
    out[policy.S_IGNORED] = ignored
    return tuple(out)


def checked(name, mac, conf=None):
    """A copy of the module's config with its unitID ("unit_id") and its
    policy numbers ("cfg", params.settings() as a list) worked out, JSON-able:
    a board does this in its set-up phase, and builds its Modules from the
    result without loading the id and params code in the loop phase."""
    from neocampus import ids
    conf = dict(conf or {})
    conf["unit_id"] = ids.mac_wire(mac) if name == "device" else ids.unit_id(mac, conf.get("unit"))
    conf["cfg"] = list(settings(name, conf.get("params")))
    return conf
