"""SHT3x model: 16-bit commands, single-shot measurements that NACK the read
header until the repeatability's maximum duration has passed (datasheet 4.3,
table 4), results read once, status register 0xF32D (POR 0x8010), soft reset,
and the datasheet 4.13 conversion inverted (physics -> raw ticks)."""
from drivers.sim.base import Model, words
from drivers.sim.bus import Nack

# command -> ms until the result is there; clock stretching (0x2Cxx) is modelled
# as the result being ready when the read header arrives.
_SINGLE = {0x2400: 15, 0x240B: 6, 0x2416: 4, 0x2C06: 0, 0x2C0D: 0, 0x2C10: 0}


def ticks(value, lo, span):
    return max(0, min(65535, int(round((value - lo) * 65535 / span))))


class SHT3XModel(Model):
    def __init__(self, temperature=21.0, humidity=50.0):
        self.temperature = temperature
        self.humidity = humidity
        self.status = 0x8010
        self.commands = []
        self._out = None
        self._ready = 0

    def write(self, data):
        if len(data) < 2:
            raise Nack(5, "SHT3x needs a 16-bit command")
        now = self.now()
        if self._out == "measure" and now < self._ready:
            raise Nack(19, "measuring")
        cmd = (data[0] << 8) | data[1]
        self.commands.append(cmd)
        if len(self.commands) > 8:  # recent history only: a long list needs one big block
            del self.commands[0]
        if cmd in _SINGLE:
            self._ready = now + _SINGLE[cmd]
            self._out = "measure"
        elif cmd == 0xF32D:
            self._out = words((self.status,))
        elif cmd == 0x3041:
            self.status &= ~0x8C10
        elif cmd == 0x30A2:
            self.status = 0x8010
            self._out = None
        else:
            self.status |= 0x0002  # command status: last command not processed
            raise Nack(5, "unknown SHT3x command 0x%04x" % cmd)

    def read(self, n):
        out = self._out
        if out is None or self.now() < self._ready:
            raise Nack(19, "no data")
        if out == "measure":
            out = words((ticks(self.temperature, -45, 175), ticks(self.humidity, 0, 100)))
        self._out = None
        return out
