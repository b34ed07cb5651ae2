"""MCP9808 digital temperature sensor (Microchip, I2C 0x18-0x1F).

    from drivers.mcp9808 import MCP9808
    sensor = MCP9808(i2c)              # any bus drivers.bus accepts
    sensor.read()                      # {"temperature": 21.5}  (degrees C)

Identity (manufacturer 0x0054, device ID 0x04) is checked at construction;
read() is one 2-byte read of the ambient temperature register. The chip has
no CRC and no data-ready bit: garbage is caught only when it breaks the
resolution's zero LSBs or the -40..125 C range, and a register that stops
updating cannot be told from a steady temperature.
"""
from drivers.bus import I2CDevice

try:
    from micropython import const
except ImportError:
    const = int

# Register pointers, datasheet table 5-1.
_TA = const(0x05)
_MANUFACTURER = const(0x06)
_DEVICE_ID = const(0x07)
_RESOLUTION = const(0x08)


class MCP9808(I2CDevice):
    CHIP = "MCP9808"
    QUANTITIES = ("temperature",)
    ADDRESSES = (0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F)
    _IDENTITY = const(3)  # manufacturer ID 0x0054 and device ID 0x04: three fixed bytes

    def __init__(self, bus, address=0x18, resolution=0.0625):
        I2CDevice.__init__(self, bus, address)
        self._buf = buf = bytearray(2)
        self.read_reg_into(_MANUFACTURER, buf)
        manufacturer = (buf[0] << 8) | buf[1]
        self.read_reg_into(_DEVICE_ID, buf)
        if manufacturer != 0x0054 or buf[0] != 0x04:
            raise self.error("not an MCP9808: manufacturer ID 0x%04x, device ID 0x%02x (want 0x0054, 0x04)"
                             % (manufacturer, buf[0]))
        # Resolution codes 0..3 are 0.5, 0.25, 0.125, 0.0625 C (table 5-8): 8 >> code
        # LSBs of 1/16 C. Worked out, not looked up: a table of floats is heap.
        lsbs = resolution * 16
        if lsbs != 8 and lsbs != 4 and lsbs != 2 and lsbs != 1:
            raise ValueError("MCP9808 resolution must be 0.5, 0.25, 0.125 or 0.0625")
        code = 3 - (lsbs > 1) - (lsbs > 2) - (lsbs > 4)
        one = memoryview(buf)[:1]
        buf[0] = code
        self.write_reg(_RESOLUTION, one)
        self.read_reg_into(_RESOLUTION, one)
        if buf[0] & 0x03 != code:
            raise self.error("resolution register reads 0x%02x after writing 0x%02x" % (buf[0], code))
        self.resolution = resolution
        # TA keeps the previous resolution's value until a conversion at the new one
        # ends: tCONV 30, 65, 130, 250 ms (table 5-9), each at most 260 >> (3 - code).
        self.sleep_ms(260 >> (3 - code))

    def read(self):
        buf = self._buf
        self.read_reg_into(_TA, buf)
        # Bits 15-13 are the alert comparator flags, bit 12 the sign (5.4, table 5-5).
        raw = ((buf[0] & 0x1F) << 8) | buf[1]
        if raw & (int(self.resolution * 16) - 1):
            raise self.error("ambient register 0x%02x%02x has bits below the %g C resolution set"
                             % (buf[0], buf[1], self.resolution))
        if raw & 0x1000:
            raw -= 0x2000
        t = raw / 16
        if not -40 <= t <= 125:
            raise self.error("ambient register 0x%02x%02x = %g C is outside -40..125 C"
                             % (buf[0], buf[1], t))
        # A keyword, not a {"temperature": t} literal: a name is an interned qstr, a
        # string of over 10 characters a heap object.
        return dict(temperature=t)
