"""A sensOCampus module (temperature, humidity, ...) without its transport:
its unitID, one policy per sensor, payloads and the handling of its orders.
The firmware and the Pi agent publish what it returns on topic(base).

    m = Module("temperature", mac, conf, now)       # conf: a module of sensocampus.Config.modules,
                                                     # or params.checked(name, mac, conf) of one
    i = m.add_sensor(0x18, "MCP9808", now)
    parts = m.feed(i, 21.375, now, seq=12)          # payload to publish, or None
    cmd = m.command(raw_bytes)                       # Command for the caller, or None
    m.status(time_str)                               # status payload

Payloads come as lists of str parts ("".join(parts) is the JSON text): a
board writes them to its socket one by one, with no copy of the whole.

Time is integer milliseconds, as in policy.py. Commands: `status`, `acquire`
and `frequency` change this module's state here (frequency clamped, all
sensors' policies follow); every accepted Command is returned so the caller
publishes the status, persists `settings()` to /module_<name>.json, or acts
on the orders of the hardware (noise sensitivity/threshold, device orders).
Malformed commands print a console line and count in `errors`; commands for
another unit count in `foreign`; both appear in the status.
"""
from neocampus import payload
from neocampus.policy import S_IGNORED, SensorPolicy, clamp_frequency

try:
    from micropython import const
except ImportError:
    const = int

# Module.sensors: one list per sensor.
_SUB_ID = const(0)   # its subID: I2C address, or a name ("co2")
_LABEL = const(1)    # its chip, for the status ("MCP9808@24")
_POLICY = const(2)   # its SensorPolicy


class Module:
    def __init__(self, name, mac, conf=None, now=0, log=print):
        if not (conf and "cfg" in conf):
            # Imported here: set-up work, which a board does in its set-up phase.
            from neocampus.params import checked
            conf = checked(name, mac, conf)
        self.name = name
        self.unit_id = conf["unit_id"]
        self.cfg = tuple(conf["cfg"])  # shared by the sensors' policies
        self.frequency = clamp_frequency(name, conf.get("frequency"))
        self.sensors = []  # records, _SUB_ID, _LABEL, _POLICY
        self.errors = 0
        self.foreign = 0
        self.log = log

    def topic(self, base):
        return base + "/" + self.name

    def add_sensor(self, sub_id, label=None, now=0):
        p = SensorPolicy(self.name, self.cfg, now, self.frequency)
        self.sensors.append([sub_id, label, p])
        return len(self.sensors) - 1

    def start(self, now):
        for s in self.sensors:
            s[_POLICY].start(now)

    def sample_interval(self, now, index=None):
        """Milliseconds until sensor `index` (None: any sensor) wants a read."""
        if index is not None:
            return self.sensors[index][_POLICY].sample_interval(now)
        best = None
        for s in self.sensors:
            d = s[_POLICY].sample_interval(now)
            if best is None or d < best:
                best = d
        return best

    def feed(self, index, value, now, seq=None, timestamp=None, **extra):
        s = self.sensors[index]
        v = s[_POLICY].feed(value, now)
        if v is None:
            return None
        return payload.reading(self.name, v, self.unit_id, s[_SUB_ID], seq, timestamp, False, **extra)

    def set_frequency(self, seconds):
        self.frequency = clamp_frequency(self.name, seconds)
        for s in self.sensors:
            s[_POLICY].set_frequency(self.frequency)
        return self.frequency

    def settings(self):
        """What /module_<name>.json keeps across reboots."""
        return {"frequency": self.frequency}

    def restore(self, settings):
        if isinstance(settings, dict) and "frequency" in settings:
            self.set_frequency(settings["frequency"])

    def command(self, raw):
        # Imported on use: a Module that never gets an order never loads the
        # parser (a board imports it with its loop code, at the bottom of its heap).
        from neocampus import commands
        try:
            cmd = commands.parse(raw, self.unit_id, self.name)
        except commands.CommandError as e:
            self.errors += 1
            self.log("%s: command ignored: %s" % (self.name, e))
            return None
        if cmd is None:
            self.foreign += 1
            return None
        order, value = cmd
        if order == "acquire":
            for s in self.sensors:
                s[_POLICY].force()
        elif order == "frequency":
            cmd = order, self.set_frequency(value)
        return cmd

    def status(self, time_str, fields=(), **extra):
        """Status payload parts; `fields` as payload.status()."""
        labels = []
        for s in self.sensors:
            labels.append("%s@%s" % (s[_LABEL] or self.name, s[_SUB_ID]))
        if self.cfg[S_IGNORED]:
            extra["ignored_params"] = self.cfg[S_IGNORED]
        return payload.status(self.name, self.frequency, labels, time_str, self.unit_id, False, fields,
                              cmd_errors=self.errors, **extra)
