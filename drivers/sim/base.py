"""Shared pieces of the chip models: a portable millisecond clock and RegisterModel."""
import time

if hasattr(time, "ticks_ms"):
    _T0 = time.ticks_ms()

    def real_ms():
        return time.ticks_diff(time.ticks_ms(), _T0)
else:
    _T0 = time.monotonic()

    def real_ms():
        return int((time.monotonic() - _T0) * 1000)


class Model:
    """Base of every chip model. `clock` is a callable returning ms; SimBus.attach
    plugs in its own (real time + skipped sleeps) unless a test set one."""

    clock = None

    def now(self):
        c = self.clock
        return c() if c is not None else real_ms()

    def write(self, data):
        pass

    def read(self, n):
        return b"\xff" * n


class RegisterModel(Model):
    """Pointer-register chip: the first written byte selects a register (through
    select(), which a chip with command bits overrides), further written bytes are
    stored with auto-increment (on_write hook); reads start at the pointer and
    auto-increment, after one on_read(reg) call that refreshes live registers."""

    def __init__(self, size=256):
        self.size = size
        self.regs = bytearray(size)
        self.ptr = 0

    def select(self, byte):
        return byte % self.size

    def on_write(self, reg, value):
        pass

    def on_read(self, reg):
        pass

    def write(self, data):
        if not data:
            return
        self.ptr = self.select(data[0])
        for b in data[1:]:
            self.regs[self.ptr] = b
            self.on_write(self.ptr, b)
            self.ptr = (self.ptr + 1) % self.size

    def read(self, n):
        self.on_read(self.ptr)
        out = bytearray(n)
        for i in range(n):
            out[i] = self.regs[self.ptr]
            self.ptr = (self.ptr + 1) % self.size
        return out


def words(values, init=0xFF):
    """Sensirion read format: each 16-bit word MSB first, then its CRC-8."""
    from drivers.crc import crc8
    out = bytearray(3 * len(values))
    for i, v in enumerate(values):
        out[3 * i] = (v >> 8) & 0xFF
        out[3 * i + 1] = v & 0xFF
        out[3 * i + 2] = crc8(out, 3 * i, 3 * i + 2, init)
    return out


class SharedAddress(Model):
    """Two (or more) chips wired at one address: every write reaches them
    all, and a read is the wired AND of their answers (each pulls SDA low
    for its 0 bits; the pull-up gives a 1 only where all let go)."""

    def __init__(self, *models):
        self.models = models
        self.clock = None

    def power_on(self):
        for m in self.models:
            if m.clock is None:
                m.clock = self.clock
            if hasattr(m, "power_on"):
                m.power_on()

    def write(self, data):
        for m in self.models:
            m.write(data)

    def read(self, n):
        out = bytearray(b"\xff" * n)
        for m in self.models:
            got = m.read(n)
            for i in range(min(n, len(got))):
                out[i] &= got[i]
        return out
