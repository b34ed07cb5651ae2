"""The `sensors` role: I2C chips published by neocampus.module.Module (the
firmware's policy, payloads and unitIDs), gpiozero inputs (PIR: presence,
door contacts: open_close, buttons: on_off) published on every change on the
`digital` module as the firmware does, and gpiozero outputs (LED, relay
OutputDevice) driven by a digital `set` order naming the output.

The role makes readings as (seq, topic, text); the agent stores them (outbox).
"""
import logging

from neocampus import payload, table
from neocampus.module import Module

log = logging.getLogger("rpi_agent.sensors")


def module_configs(conf, found, inputs):
    """The modules to run: those of sensOCampus's config (zones[0]), or, for a
    device not configured there yet, one per quantity found (and digital
    for configured inputs), as the firmware's sandbox mode does."""
    if conf.modules:
        return [m for m in conf.modules if m["module"] != "device"]
    out = []
    for name in ("temperature", "humidity", "luminosity", "airquality"):
        q = table.MODULES[name][table.QUANTITY]
        if any(q in c.QUANTITIES for c in found):
            out.append({"module": name, "unit": None, "frequency": None, "driver": None, "params": {}})
    if inputs:
        out.append({"module": "digital", "unit": None, "frequency": None, "driver": None, "params": {}})
    return out


class SensorsRole:
    def __init__(self, hw, mac, base, module_confs, found, inputs, outputs, now):
        self.hw, self.base = hw, base
        self.found = found
        self.modules = []
        self.sensors = []   # [module, index in it, reader, quantity, due ms]
        self.inputs = []    # [module, gpiozero device, gpio, type, last level]
        self.polled = True  # inputs read every 50 ms (until watch() sets edge callbacks)
        self.outputs = {}   # name -> gpiozero output device
        self.read_errors = 0
        for mc in module_confs:
            name = mc["module"]
            if name not in table.MODULES:
                log.warning("module %s: not supported by the agent", name)
                continue
            m = Module(name, mac, mc, now, log=log.warning)
            q = table.MODULES[name][table.QUANTITY]
            if name == "digital":
                self.digital = m
            elif q is None:
                log.warning("module %s: not supported by the agent yet", name)
                continue
            else:
                for c in found:
                    if q in c.QUANTITIES:
                        sub = q if name == "airquality" else c.address
                        self.sensors.append([m, m.add_sensor(sub, c.CHIP, now), c, q, now])
                if not any(s[0] is m for s in self.sensors):
                    log.warning("module %s: no chip for it on the bus", name)
            self.modules.append(m)
        digital = [m for m in self.modules if m.name == "digital"]
        if (inputs or outputs) and not digital:
            m = Module("digital", mac, None, now, log=log.warning)
            self.modules.append(m)
            digital = [m]
        self._gpio(digital[0] if digital else None, inputs, outputs)
        self._cache = (None, None, 0)

    def _gpio(self, m, inputs, outputs):
        if not (inputs or outputs):
            return
        if self.hw.pin_factory is None:
            raise RuntimeError("sensors.inputs/outputs: no GPIO on this machine (gpiozero found no pin factory)")
        from gpiozero import LED, DigitalInputDevice, OutputDevice
        f = self.hw.pin_factory
        for i in inputs:
            dev = DigitalInputDevice(i["pin"], pull_up=i["pull_up"], pin_factory=f)
            self.inputs.append([m, dev, i["pin"], i["type"], None])
        for o in outputs:
            cls = LED if o["kind"] == "led" else OutputDevice
            self.outputs[o["name"]] = cls(o["pin"], active_high=o["active_high"], initial_value=False,
                                          pin_factory=f)

    def watch(self, wake):
        """Have gpiozero call `wake` on every edge of the inputs, so that the
        loop need not poll them. False when the pin factory cannot detect
        edges: the loop then polls them every 50 ms."""
        try:
            for d in self.inputs:
                d[1].when_activated = d[1].when_deactivated = wake
        except Exception as e:  # gpiozero's PinEdgeDetectUnsupported and kin
            log.warning("GPIO inputs: no edge detection here (%s): polled every 50 ms", e)
            self.polled = True
            return False
        self.polled = False
        return True

    def on_connect(self, now):
        """At each MQTT connection, as the firmware: a fast start, current levels sent again."""
        for m in self.modules:
            m.start(now)
        for s in self.sensors:
            s[4] = now
        for d in self.inputs:
            d[4] = None

    def _read(self, reader, q, now):
        # One chip read serves every module it feeds (BME280: temperature and humidity).
        c = self._cache
        if c[0] is not reader or now - c[2] > 100:
            try:
                values = reader.read()
            except Exception as e:  # SensorError, a bus OSError: no made-up value
                self.read_errors += 1
                log.warning("%s@0x%02x: %s", reader.CHIP, reader.address, e)
                values = None
            c = self._cache = (reader, values, now)
        return c[1][q] if c[1] else None

    def poll(self, now, seq, stamp, force=None):
        """Readings due now: [(seq, topic, text)]. `seq` numbers them as the
        firmware's App does (seq.next offered, seq.take() once published);
        `stamp` is their timestamp (UNIX seconds)."""
        out = []
        for d in self.inputs:
            level = bool(d[1].value)
            if level != d[4] or d[0] is force:
                d[4] = level
                m, n = d[0], seq.take()
                out.append((n, m.topic(self.base), payload.reading(
                    "digital", level, m.unit_id, None, n, stamp, input=d[2], type=d[3])))
        for s in self.sensors:
            if s[4] > now:
                continue
            m, i = s[0], s[1]
            parts = m.feed(i, self._read(s[2], s[3], now), now, seq=seq.next, timestamp=stamp)
            if parts is not None:
                out.append((seq.take(), m.topic(self.base), "".join(parts)))
            s[4] = now + m.sample_interval(now, i)
        return out

    def next_due(self):
        """When (ms) the next chip read is due, None without chips."""
        return min((s[4] for s in self.sensors), default=None)

    def acquire(self, m, now):
        for s in self.sensors:
            if s[0] is m:
                s[4] = now

    def set_output(self, name, value):
        dev = self.outputs.get(name)
        if dev is None:
            raise ValueError("no output named %r here (outputs: %s)" % (name, ", ".join(sorted(self.outputs)) or "none"))
        dev.value = bool(value)
        return dev.value

    def status_fields(self, m):
        if m.name == "digital":
            return ("inputs", [d[2] for d in self.inputs if d[0] is m],
                    "outputs", {n: bool(d.value) for n, d in sorted(self.outputs.items())})
        return ()

    def close(self):
        for d in self.inputs:
            d[1].close()
        for d in self.outputs.values():
            d.close()
