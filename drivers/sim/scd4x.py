"""SCD4x model: 16-bit commands with execution times (datasheet table 9; a
command or read header during execution is NACKed), idle vs periodic mode
(only read/ready/stop/set_ambient_pressure allowed while measuring), a sample
every 5 s, a buffer emptied by read_measurement (NACK when empty), SCD41
single shot (5 s), serial number, and the 3.5.2 conversion inverted."""
from drivers.sim.base import Model, words
from drivers.sim.bus import Nack

_PERIODIC_OK = (0xEC05, 0xE4B8, 0x3F86, 0xE000)


class SCD4XModel(Model):
    def __init__(self, co2=600, temperature=21.0, humidity=50.0, serial=0x1A2B3C4D5E6F):
        self.co2 = co2
        self.temperature = temperature
        self.humidity = humidity
        self.serial = serial
        self.periodic = False
        self.commands = []
        self._busy = 0
        self._out = None
        self._data = None
        self._due = None  # end of the measurement in progress

    def _sample(self, now):
        if self._due is not None and now >= self._due:
            t = int(round((self.temperature + 45) * 65535 / 175))
            rh = int(round(self.humidity * 65535 / 100))
            self._data = words((max(0, min(65535, int(round(self.co2)))),
                                max(0, min(65535, t)), max(0, min(65535, rh))))
            # Periodic mode keeps the 5 s grid; a single shot ends.
            self._due = self._due + 5000 * ((now - self._due) // 5000 + 1) if self.periodic else None

    def write(self, data):
        now = self.now()
        self._sample(now)
        if now < self._busy or len(data) < 2:
            raise Nack(19, "busy")
        cmd = (data[0] << 8) | data[1]
        if self.periodic and cmd not in _PERIODIC_OK:
            raise Nack(5, "0x%04x not allowed during periodic measurement" % cmd)
        self.commands.append(cmd)
        if len(self.commands) > 8:  # recent history only: a long list needs one big block
            del self.commands[0]
        ms = 1
        if cmd == 0x21B1:
            self.periodic = True
            self._due = now + 5000
            ms = 0
        elif cmd == 0x3F86:
            self.periodic = False
            self._due = None
            ms = 500
        elif cmd == 0xEC05:
            self._out, self._data = self._data, None
        elif cmd == 0xE4B8:
            self._out = words((0x8006 if self._data else 0x8000,))
        elif cmd == 0x3682:
            s = self.serial
            self._out = words(((s >> 32) & 0xFFFF, (s >> 16) & 0xFFFF, s & 0xFFFF))
        elif cmd == 0x219D:
            self._data = None
            self._due = now + 5000
            ms = 5000
        elif cmd != 0xE000:
            raise Nack(5, "unknown SCD4x command 0x%04x" % cmd)
        self._busy = now + ms

    def read(self, n):
        now = self.now()
        self._sample(now)
        out = self._out
        if out is None or now < self._busy:
            raise Nack(19, "no data")
        self._out = None
        return out
