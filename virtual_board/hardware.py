"""What is soldered around the virtual board's MCU, played by the runner:
the I2C bus with its chips, the input pins, the radio, answering the frames
the VM's fakes send (their op codes are the fakes' own table, vboard.py)."""
import threading
import time

from toolchain.firmware import VIRTUAL, int_constants
from virtual_board.spec import MODELS, BoardError, drift_value, parse_quantity, parse_wiring

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

    def __init__(self, chips, wiring=(), pins=(None, None)):
        from drivers.sim.base import SharedAddress
        from drivers.sim.bus import SimBus
        self.bus = SimBus()
        self.specs = {}
        shared = {}
        for chip, addr, values in chips:
            shared.setdefault(addr, []).append((MODELS[chip](), dict(values)))
        for addr, models in shared.items():
            # Two chips given one address are two breakouts wired at it.
            self.bus.attach(addr, models[0][0] if len(models) == 1 else SharedAddress(*(m for m, _ in models)))
            self.specs[addr] = models
        self.pins_i2c = pins      # the board's (SDA, SCL) GPIOs, for their levels
        self.wiring = set()
        self.loose = set()        # addresses of chips with a loose wire: every other scan misses them
        self._scans = 0
        self.pins = {}
        self.irq = {}            # pin -> [time of the last count, fraction of a pulse carried]
        self.wifi = "ok"
        self.ntp = True
        self.lock = threading.Lock()
        for fault in wiring:
            self.set_wiring(fault)
        self._apply()

    def _apply(self, addr=None):
        t = time.time()
        for a, chips in self.specs.items():
            if addr is None or a == addr:
                for model, values in self._chips(a):
                    for q, spec in values.items():
                        setattr(model, q, drift_value(spec, t))

    def _chips(self, addr):
        """[(model, quantities)] of the chips at addr (two when two are wired there)."""
        shared = self.bus.models[addr]
        models = getattr(shared, "models", (shared,))
        return [(m, values) for m, (_, values) in zip(models, self.specs[addr])]

    def set(self, addr, **quantities):
        with self.lock:
            if addr not in self.specs:
                raise BoardError("no chip at 0x%02x on this board" % addr)
            for _, values in self.specs[addr]:
                for q, v in quantities.items():
                    values[q] = parse_quantity(str(v))
            self._apply(addr)

    def set_wiring(self, fault):
        """A wiring fault (virtual_board.spec.WIRING), or "ok" to clear them all."""
        kind, addr = parse_wiring(fault)
        with self.lock:
            if kind == "ok":
                self.wiring.clear()
                self.loose.clear()
            elif kind == "loose":
                if addr not in self.specs:
                    raise BoardError("loose@0x%02x: no chip at 0x%02x on this board" % (addr, addr))
                self.loose.add(addr)
            else:
                self.wiring.add(kind)

    def held(self):
        """True while a chip holds the bus (its `hold` quantity set, e.g.
        mcp9808@0x18:hold=1): a chip stuck stretching the clock."""
        return any(float(values.get("hold", 0) or 0) for chips in self.specs.values() for _, values in chips)

    def model(self, addr):
        return self.bus.models[addr]

    def _line(self, pin, pull):
        """The level of an I2C line read as an input (pull: the MCU's pull-up on)."""
        sda, scl = self.pins_i2c
        if (pin == sda and "sda-low" in self.wiring) or (pin == scl and "scl-low" in self.wiring):
            return 0
        return 1 if pull or "no-pullup" not in self.wiring else 0

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
            if op in (OPS["I2C"], OPS["SCAN"]) and bool(flags & 2) != ("swapped" in self.wiring):
                # Not where the chips' SDA and SCL are: nobody acknowledges.
                return b"\x13" if op == OPS["I2C"] else b"\0"
            if op in (OPS["I2C"], OPS["SCAN"]) and self.wiring & {"scl-low", "no-pullup"}:
                # The clock never rises: every transfer times out (ETIMEDOUT),
                # and a scan, which ignores each address's error, finds nobody.
                return b"\x6e" if op == OPS["I2C"] else b"\0"
            if "sda-low" in self.wiring:
                # Every ACK bit reads 0 and so does every data bit.
                if op == OPS["SCAN"]:
                    return bytes((112,)) + bytes(range(0x08, 0x78))
                if op == OPS["I2C"]:
                    return b"\0" + bytes(nread)
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
                self._scans += 1
                found = [a for a in self.bus.scan() if a not in self.loose or self._scans % 2]
                return bytes((len(found),)) + bytes(found)
            if op == OPS["PIN"]:
                if addr not in self.pins and addr in self.pins_i2c:
                    return bytes((self._line(addr, flags & 1),))
                return bytes((self.pins.get(addr, 0),))
            if op == OPS["EDGES"]:
                return self._pulses(addr)
            if op == OPS["RADIO"]:
                return bytes((("ok", "fail", "down").index(self.wifi) | (0 if self.ntp else 8),))
        return None

