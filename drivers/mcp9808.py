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
    def const(x):
        return x

# Register pointers, datasheet table 5-1.
_TA = const(0x05)
_MANUFACTURER = const(0x06)
_DEVICE_ID = const(0x07)
_RESOLUTION = const(0x08)
# Resolution register code -> degrees C per LSB (table 5-8) and tCONV ms (table 5-9).
STEPS = (0.5, 0.25, 0.125, 0.0625)
_TCONV = (30, 65, 130, 250)


class MCP9808:
    CHIP = "MCP9808"
    QUANTITIES = ("temperature",)
    ADDRESSES = (0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F)

    def __init__(self, bus, address=0x18, resolution=0.0625):
        self.address = address
        self._dev = dev = I2CDevice(bus, address, "MCP9808")
        self._buf = buf = bytearray(2)
        dev.read_reg_into(_MANUFACTURER, buf)
        manufacturer = (buf[0] << 8) | buf[1]
        dev.read_reg_into(_DEVICE_ID, buf)
        if manufacturer != 0x0054 or buf[0] != 0x04:
            raise dev.error("not an MCP9808: manufacturer ID 0x%04x, device ID 0x%02x (want 0x0054, 0x04)"
                            % (manufacturer, buf[0]))
        if resolution not in STEPS:
            raise ValueError("MCP9808 resolution must be one of %r" % (STEPS,))
        code = STEPS.index(resolution)
        buf[0] = code
        dev.write_reg(_RESOLUTION, memoryview(buf)[:1])
        dev.read_reg_into(_RESOLUTION, memoryview(buf)[:1])
        if buf[0] & 0x03 != code:
            raise dev.error("resolution register reads 0x%02x after writing 0x%02x" % (buf[0], code))
        self.resolution = resolution
        self._mask = (1 << (3 - code)) - 1
        # TA keeps the previous resolution's value until a conversion at the new one ends.
        dev.sleep_ms(_TCONV[code])

    def read(self):
        buf = self._buf
        self._dev.read_reg_into(_TA, buf)
        # Bits 15-13 are the alert comparator flags, bit 12 the sign (5.4, table 5-5).
        raw = ((buf[0] & 0x1F) << 8) | buf[1]
        if raw & self._mask:
            raise self._dev.error("ambient register 0x%02x%02x has bits below the %g C resolution set"
                                  % (buf[0], buf[1], self.resolution))
        if raw & 0x1000:
            raw -= 0x2000
        t = raw / 16
        if not -40 <= t <= 125:
            raise self._dev.error("ambient register 0x%02x%02x = %g C is outside -40..125 C"
                                  % (buf[0], buf[1], t))
        return {"temperature": t}
