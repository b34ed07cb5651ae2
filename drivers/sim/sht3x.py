"""SHT3x model: every 16-bit command of the SHT3x-DIS datasheet's command tables.

  single shot (table 9): 0x2400/0B/16 without clock stretching NACK the read header
    until the repeatability's maximum duration (table 4: 15/6/4 ms) has passed, and
    take no command meanwhile; 0x2C06/0D/10 stretch the clock instead, modelled as
    the result being there when the read header arrives;
  periodic (table 10: 0x2032 .. 0x272A, 0.5 to 10 mps; ART 0x2B32, 4 Hz, 4.7): the
    first result one measurement duration after the command, then one per period;
    fetch 0xE000 (4.6) hands out the latest and clears the data memory, and its read
    header is NACKed when there is none; a new measurement command replaces the
    running acquisition (the datasheet only recommends a break first);
  break 0x3093 (4.8): back to single shot mode;  soft reset 0x30A2 (4.9): single
    shot mode, heater off, status to its reset value;  heater 0x306D / 0x3066 (4.10):
    status bit 13 (the heater's self-heating is not modelled);
  status 0xF32D, clear 0x3041 (4.11, table 18): POR 0x8010 (alert pending, reset
    detected), clear zeroes bits 15, 11, 10, 4; bit 1 says whether the command before
    was processed; serial number 0x3780 / 0x3682 (Sensirion's electronic
    identification code note): two words.
Any other command sets status bit 1 and is NACKed. A result is read once; the
datasheet 4.13 conversion is inverted (physics -> raw ticks). Alert limits (a
separate application note) are not modelled.
"""
from drivers.sim.base import Model, words
from drivers.sim.bus import Nack

# Measurement commands, tables 9, 10, 12: MSB, LSB, then the mode: bits 7:4 the
# period (0 single shot, else its index in _PERIOD_MS + 1), bits 1:0 the repeatability
# (0 high, 1 medium, 2 low), bit 3 clock stretching.
_MEAS = (b"\x24\x00\x00\x24\x0b\x01\x24\x16\x02\x2c\x06\x08\x2c\x0d\x09\x2c\x10\x0a"
         b"\x20\x32\x10\x20\x24\x11\x20\x2f\x12\x21\x30\x20\x21\x26\x21\x21\x2d\x22"
         b"\x22\x36\x30\x22\x20\x31\x22\x2b\x32\x23\x34\x40\x23\x22\x41\x23\x29\x42"
         b"\x27\x37\x50\x27\x21\x51\x27\x2a\x52\x2b\x32\x40")
_PERIOD_MS = (2000, 1000, 500, 250, 100)


def ticks(value, lo, span):
    return max(0, min(65535, int(round((value - lo) * 65535 / span))))


class SHT3XModel(Model):
    def __init__(self, temperature=21.0, humidity=50.0, serial=0x0C8E5A3B):
        self.temperature = temperature
        self.humidity = humidity
        self.serial = serial
        self.status = 0x8010
        self.commands = []
        self._out = None      # what the next read returns: bytes, "measure" or None
        self._ready = 0       # when a single shot result can be read
        self._period = None   # periodic acquisition: ms between results, else None
        self._next = 0        # when the next periodic result is there
        self._data = False    # periodic data memory holds a result

    def write(self, data):
        if len(data) < 2:
            raise Nack(5, "SHT3x needs a 16-bit command")
        now = self.now()
        if self._out == "measure" and now < self._ready:
            raise Nack(19, "measuring")
        p = self._period
        if p is not None and now >= self._next:   # periodic results since the last command
            self._data = True
            self._next += p * (int((now - self._next) // p) + 1)
        cmd = (data[0] << 8) | data[1]
        self.commands.append(cmd)
        if len(self.commands) > 8:  # recent history only: a long list needs one big block
            del self.commands[0]
        if cmd == 0xF32D:
            self._out = words((self.status,))
            return                  # bit 1 keeps telling about the command before
        mode = -1
        for i in range(0, len(_MEAS), 3):
            if _MEAS[i] == data[0] and _MEAS[i + 1] == data[1]:
                mode = _MEAS[i + 2]
                break
        if mode >= 0:
            # Maximum measurement duration of high, medium, low repeatability (table 4).
            ms = 15 if mode & 3 == 0 else 6 if mode & 3 == 1 else 4
            if mode >> 4:
                self._period = _PERIOD_MS[(mode >> 4) - 1]
                self._next = now + ms
                self._data = False
                self._out = None
            else:
                self._period = None
                self._ready = now + (0 if mode & 8 else ms)
                self._out = "measure"
        elif cmd == 0xE000:
            self._out = "measure" if self._data else None
            self._ready = 0
            self._data = False
        elif cmd == 0x3093:
            self._period = None
            self._data = False
        elif cmd == 0x30A2:
            self.status = 0x8010
            self._period = None
            self._data = False
            self._out = None
        elif cmd == 0x306D:
            self.status |= 0x2000
        elif cmd == 0x3066:
            self.status &= ~0x2000
        elif cmd == 0x3041:
            self.status &= ~0x8C10
        elif cmd == 0x3780 or cmd == 0x3682:
            s = self.serial
            self._out = words(((s >> 16) & 0xFFFF, s & 0xFFFF))
        else:
            self.status |= 0x0002  # command status: last command not processed
            raise Nack(5, "unknown SHT3x command 0x%04x" % cmd)
        self.status &= ~0x0002

    def read(self, n):
        out = self._out
        if out is None or self.now() < self._ready:
            raise Nack(19, "no data")
        if out == "measure":
            out = words((ticks(self.temperature, -45, 175), ticks(self.humidity, 0, 100)))
        self._out = None
        return out
