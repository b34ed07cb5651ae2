"""MCP47x6 single-channel DAC (Microchip MCP4706 8-bit, MCP4716 10-bit,
MCP4726 12-bit; I2C 0x60-0x67).

    from drivers.mcp47x6 import MCP47X6
    dac = MCP47X6(i2c, bits=12)        # any bus drivers.bus accepts
    dac.write(2048)                    # 12-bit code 0..4095 on every part
    dac.read()                         # {"code": 2048, "eeprom": 0}

On the neOSensor board it sets the threshold of the comparator in front of the
microphone (the "noise" module counts the comparator's pulses). It measures
nothing: QUANTITIES is empty. Codes are 12-bit whatever the part: an MCP4716
keeps code >> 2, an MCP4706 code >> 4, and read() and `code` give what the
chip holds back in 12-bit steps (4095 on an MCP4706 reads back as 4080).

write() is one Write Volatile DAC Register ("fast write") transaction, normal
power mode; the EEPROM is never written. read() is one read of the whole
memory. References are to datasheet DS22272C. The chip has no ID register:
construction reads the memory once and checks what the read format fixes
(bit 5 of the volatile configuration byte is 0, the POR bit is 1, unused data
bits are 0, an MCP4706 repeats its 4-byte answer), so an empty bus (0xFF) or a
zeroed answer is refused, but a look-alike chip can pass.
"""
from drivers.bus import I2CDevice

try:
    from micropython import const
except ImportError:
    const = int

# Status/configuration byte of a read (figures 6-5, 6-6):
# RDY/BSY, POR, 0, VREF1, VREF0, PD1, PD0, G.
_POR = const(0x40)
_ZERO = const(0x20)


class MCP47X6(I2CDevice):
    CHIP = "MCP47x6"
    QUANTITIES = ()
    ADDRESSES = (0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67)
    _IDENTITY = const(0)  # no ID register: only that its memory read parses

    def __init__(self, bus, address=0x60, bits=12):
        if bits != 8 and bits != 10 and bits != 12:
            raise ValueError("MCP47x6 bits must be 8 (MCP4706), 10 (MCP4716) or 12 (MCP4726)")
        I2CDevice.__init__(self, bus, address)
        self.bits = bits
        # Table 6-1: a 12/10-bit read is 65 clocks = START + address + 6 bytes,
        # an 8-bit one 47 = 4 bytes, which then repeat (figure 6-6, note 1): 6
        # bytes on every part, the 8-bit repeat being one more check.
        self._buf = bytearray(6)
        # Bus errors (NACK, timeout) keep their own message; only a wrong
        # answer says "not an MCP47x6".
        self.code = self._fetch("not an MCP47x6: read gave")

    def _fetch(self, what):
        """Read the memory; 12-bit code of the volatile DAC register, or raise."""
        buf = self._buf
        self.read_into(buf)
        if self.bits == 8:
            # Figure 6-6: status, D7..D0, NV status, NV D7..D0, then status, D7..D0 again.
            ok = buf[4] == buf[0] and buf[5] == buf[1]
        else:
            # Figure 6-5: 16-bit words, D11..D0 (D9..D0) left-justified, unused LSBs read 0.
            ok = not ((buf[2] | buf[5]) & (0x0F if self.bits == 12 else 0x3F))
        # POR = 1: a chip that answers is past its reset delay (4.6.1; the bit's
        # polarity is the MCP4725/MCP4728 one, not confirmed in DS22272C by search).
        if not ok or buf[0] & (_POR | _ZERO) != _POR:
            raise self.error(what + " %02x %02x %02x %02x %02x %02x" % tuple(buf))
        return buf[1] << 4 if self.bits == 8 else ((buf[1] << 8) | buf[2]) >> 4

    def write(self, code):
        """Set the volatile DAC register to a 12-bit code 0..4095 (normal mode).
        Overrides I2CDevice.write: the plain bus write is called explicitly."""
        if not 0 <= code <= 4095:
            raise ValueError("MCP47x6 code must be 0..4095")
        # Figure 6-1, Write Volatile DAC Register (C2:C1 = 00): 0, 0, PD1, PD0
        # (00: normal), b11..b8, then b7..b0. MCP4726: D11..D0; MCP4716: D9..D0
        # in b11..b2; MCP4706: D7..D0 in b7..b0, b11..b8 don't care.
        w = code >> 4 if self.bits == 8 else code & (0xFFF if self.bits == 12 else 0xFFC)
        buf = self._buf
        buf[0] = w >> 8
        buf[1] = w & 0xFF
        I2CDevice.write(self, memoryview(buf)[:2])
        # Only once the chip has ACKed it.
        self.code = w << 4 if self.bits == 8 else w

    def read(self):
        """{"code": volatile DAC register, "eeprom": nonvolatile one}, 12-bit codes."""
        code = self._fetch("read does not fit the format:")
        buf = self._buf
        eeprom = buf[3] << 4 if self.bits == 8 else ((buf[4] << 8) | buf[5]) >> 4
        return dict(code=code, eeprom=eeprom)
