"""What is soldered around the virtual board's MCU, played by the runner:
the I2C bus with its chips, the input pins, the radio, answering the frames
the VM's fakes send (their op codes are the fakes' own table, vboard.py)."""
import threading
import time

from toolchain.firmware import VIRTUAL, int_constants
from virtual_board.spec import MODELS, BoardError, drift_value, parse_quantity

# vboard.py connects to a runner when imported, so its table is read, not imported.
OPS = int_constants(VIRTUAL / "vboard.py")

# The noise front end: a microphone's envelope (`noise`, a fraction of the
# DAC's reference) against the comparator threshold the MCP47x6 sets; the
# comparator's rising edges reach the GPIO given as the chip's `pin`
# (default 13). Loudness above the threshold makes pulses, PULSE_HZ per unit
# of the difference.
PULSE_HZ = 200.0
NOISE_PIN = 13


class Hardware:
    """What is soldered around the MCU: the I2C bus with its chips, input
    pins, the radio. Lives in the runner, survives the VM's resets."""

    def __init__(self, chips):
        from drivers.sim.bus import SimBus
        self.bus = SimBus()
        self.specs = {}
        for chip, addr, values in chips:
            self.bus.attach(addr, MODELS[chip]())
            self.specs[addr] = dict(values)
        self.pins = {}
        self.irq = {}            # pin -> [time of the last count, fraction of a pulse carried]
        self.wifi = "ok"
        self.ntp = True
        self.lock = threading.Lock()
        self._apply()

    def _apply(self, addr=None):
        t = time.time()
        for a, values in self.specs.items():
            if addr is None or a == addr:
                for q, spec in values.items():
                    setattr(self.bus.models[a], q, drift_value(spec, t))

    def set(self, addr, **quantities):
        with self.lock:
            if addr not in self.specs:
                raise BoardError("no chip at 0x%02x on this board" % addr)
            for q, v in quantities.items():
                self.specs[addr][q] = parse_quantity(str(v))
            self._apply(addr)

    def held(self):
        """True while a chip holds the bus (its `hold` quantity set, e.g.
        mcp9808@0x18:hold=1): a chip stuck stretching the clock."""
        return any(float(spec.get("hold", 0) or 0) for spec in self.specs.values())

    def model(self, addr):
        return self.bus.models[addr]

    def _pulses(self, pin):
        """Rising edges on `pin` since the VM last asked (2 bytes, big endian)."""
        now = time.monotonic()
        last = self.irq.setdefault(pin, [now, 0.0])
        dt, last[0] = now - last[0], now
        rate = 0.0
        for a, model in self.bus.models.items():
            if hasattr(model, "output") and int(getattr(model, "pin", NOISE_PIN)) == pin:
                self._apply(a)
                rate += PULSE_HZ * max(0.0, float(getattr(model, "noise", 0.0)) - model.output())
        last[1] += rate * dt
        n = min(int(last[1]), 0xFFFF)
        last[1] -= n
        return n.to_bytes(2, "big")

    def handle(self, op, addr, data, nread, flags):
        """One frame from the VM's fakes -> reply bytes (or None)."""
        with self.lock:
            if op in (OPS["I2C"], OPS["SCAN"]) and self.held():
                return None  # SCL held low: the transfer never ends (the watchdog will)
            if op == OPS["I2C"]:
                self._apply(addr)
                try:
                    # The public machine.I2C API of SimBus: a write without
                    # STOP then a read is one combined transaction.
                    if data or not nread:
                        self.bus.writeto(addr, data, not nread and bool(flags & 1))
                    got = self.bus.readfrom(addr, nread, bool(flags & 1)) if nread else b""
                except OSError as e:
                    return bytes((e.errno if isinstance(e.errno, int) and 0 < e.errno < 256 else 5,))
                return b"\0" + got
            if op == OPS["SCAN"]:
                found = self.bus.scan()
                return bytes((len(found),)) + bytes(found)
            if op == OPS["PIN"]:
                return bytes((self.pins.get(addr, 0),))
            if op == OPS["EDGES"]:
                return self._pulses(addr)
            if op == OPS["RADIO"]:
                return bytes((("ok", "fail", "down").index(self.wifi) | (0 if self.ntp else 8),))
        return None

