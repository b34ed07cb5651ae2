# The noise module's hardware: a microphone behind a comparator whose
# threshold an MCP47x6 DAC sets; the comparator's rising edges are counted on
# a GPIO by an interrupt. A reading is the number of pulses over one period
# (the module's frequency, 300..3600 s) or since the last one (acquire).
# Loaded by assemble.py only for a board that has a noise module.
import time
import machine
from neocampus import payload
from neosensor import store

THRESHOLD = 2048  # DAC code at first boot: half the reference


class Noise:
    def __init__(self, m, gpio, dac, saved, now):
        self.m, self.input, self.dac = m, gpio, dac
        self.count = 0
        self.due = time.ticks_add(now, m.frequency * 1000)
        t = (saved or {}).get("threshold")
        self.threshold = t if isinstance(t, int) and 0 <= t <= 4095 else THRESHOLD
        self._write()
        self.pin = machine.Pin(gpio, machine.Pin.IN)
        self.pin.irq(handler=self._pulse, trigger=machine.Pin.IRQ_RISING)

    def _pulse(self, pin):
        # Interrupt context: no allocation (a small int add).
        self.count += 1

    def _write(self):
        if self.dac is not None:
            try:
                self.dac.write(self.threshold)
            except Exception as e:  # SensorError or a bus OSError: keep counting
                self.m.errors += 1
                print("noise: DAC not set: %s" % e)

    def poll(self, app, now, force=False):
        if force or time.ticks_diff(now, self.due) >= 0:
            self.due = time.ticks_add(now, self.m.frequency * 1000)
            # The handler may run between two bytecodes: read and clear at once.
            s = machine.disable_irq()
            n, self.count = self.count, 0
            machine.enable_irq(s)
            m = self.m
            seq = app._next_seq()
            app.send(m, payload.reading("noise", n, m.unit_id, None if self.dac is None else self.dac.address,
                                        seq, app._stamp(), False, input=self.input), seq)

    def sensitivity(self):
        # 100 % is the lowest threshold, 0 % the highest.
        return (4095 - self.threshold) * 100 // 4095

    def order(self, app, cmd, now):
        """The noise part of an accepted order (the App did the generic part)."""
        o, v = cmd
        if o == "acquire":
            self.poll(app, now, True)
        elif o == "frequency":
            self.due = time.ticks_add(now, self.m.frequency * 1000)
        elif o == "threshold" or o == "sensitivity":
            self.threshold = v if o == "threshold" else (100 - v) * 4095 // 100
            self._write()
        else:
            return
        if o != "acquire":
            d = self.m.settings()
            d["threshold"] = self.threshold
            store.save("module_noise.json", d)

    def fields(self):
        return ("input", self.input, "threshold", self.threshold, "sensitivity", self.sensitivity())
