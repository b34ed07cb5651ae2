"""SHT2x / HTU21D model: one-byte commands, no-hold measurements that NACK the
read header until the maximum measuring time of the resolution has passed
(SHT21 datasheet table 7), hold-master commands answered at once (the clock
stretch is the wait), user register with resolution bits 7,0, soft reset, and
the datasheet 6.1/6.2 conversion inverted with status bits in the LSB, and the
electronic identification code (SHT2x application note, HTU21D datasheet "serial
number"): 0xFA 0x0F reads SNB_3..SNB_0 with a CRC after each byte, 0xFC 0xC9 reads
SNC_1, SNC_0, CRC, SNA_1, SNA_0, CRC (`serial` = SNA << 48 | SNB << 16 | SNC).
Commands outside the datasheet's table are NACKed; so is any command, and the read
header, while a no-hold measurement or the soft reset (15 ms) is in progress."""
from drivers.crc import crc8
from drivers.sim.base import Model
from drivers.sim.bus import Nack

_BITS = ((12, 14), (8, 12), (10, 13), (11, 11))
_T_MS = (85, 22, 43, 11)
_RH_MS = (29, 4, 9, 15)


class SHT2XModel(Model):
    def __init__(self, temperature=21.0, humidity=50.0, user=0x02, serial=0x00801A2B3C4D5E6F):
        self.temperature = temperature
        self.humidity = humidity
        self.user = user
        self.serial = serial
        self._out = None
        self._ready = 0

    def code(self):
        return ((self.user >> 6) & 2) | (self.user & 1)

    def _word(self, humidity):
        rh_bits, t_bits = _BITS[self.code()]
        if humidity:
            raw, bits = (self.humidity + 6) * 65536 / 125, rh_bits
        else:
            raw, bits = (self.temperature + 46.85) * 65536 / 175.72, t_bits
        step = 1 << (16 - bits)
        raw = max(0, min(65535 - step + 1, int(round(raw / step)) * step)) | (2 if humidity else 0)
        out = bytearray(((raw >> 8) & 0xFF, raw & 0xFF, 0))
        out[2] = crc8(out, 0, 2, 0x00)
        return out

    def write(self, data):
        now = self.now()
        if now < self._ready:
            raise Nack(19, "busy")
        c = data[0]
        if c in (0xF3, 0xF5, 0xE3, 0xE5):
            ms = _RH_MS if c & 0x04 else _T_MS
            self._ready = now + (ms[self.code()] if c & 0x10 else 0)
            self._out = self._word(c & 0x04)
        elif c == 0xE7:
            self._out = bytes((self.user,))
        elif c == 0xE6 and len(data) > 1:
            # Reserved bits 3-5 and the battery flag (bit 6) are not writable.
            self.user = (data[1] & 0x87) | (self.user & 0x78)
        elif len(data) > 1 and ((c == 0xFA and data[1] == 0x0F) or (c == 0xFC and data[1] == 0xC9)):
            s = self.serial
            if c == 0xFA:   # SNB_3..SNB_0, each byte followed by its CRC
                out = bytearray(8)
                for i in range(4):
                    out[2 * i] = (s >> (40 - 8 * i)) & 0xFF
                    out[2 * i + 1] = crc8(out, 2 * i, 2 * i + 1, 0x00)
            else:           # SNC_1, SNC_0, CRC, SNA_1, SNA_0, CRC
                out = bytearray(((s >> 8) & 0xFF, s & 0xFF, 0, (s >> 56) & 0xFF, (s >> 48) & 0xFF, 0))
                out[2] = crc8(out, 0, 2, 0x00)
                out[5] = crc8(out, 3, 5, 0x00)
            self._out = out
        elif c == 0xFE:
            self.user = (self.user & 0x7C) | 0x02  # the heater bit survives a reset
            self._out = None
            self._ready = now + 15
        else:
            raise Nack(5, "unknown SHT2x command 0x%02x" % c)

    def read(self, n):
        if self._out is None or self.now() < self._ready:
            raise Nack(19, "no data")
        out, self._out = self._out, None
        return out
