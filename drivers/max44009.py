"""MAX44009 (Maxim) ambient light sensor over I2C, 0.045 to 188,000 lx.

    from drivers.max44009 import MAX44009
    sensor = MAX44009(i2c, address=0x4A)      # 0x4A (A0 low) or 0x4B (A0 high)
    sensor.read()   # {"lux": lx}

The chip has no ID register and does not auto-increment: it is recognised by its
register pattern (a 2-byte read repeats the register; reserved bits of the
configuration and lux-low registers read 0). read() follows the datasheet: register
0x04, repeated START, read, repeated START, register 0x03, read, STOP -- one
transaction, during which the chip holds both lux registers still. (On a busio-style
bus, which cannot chain repeated starts, it is two transactions.)
Automatic ranging by default; integration_ms (800 .. 6.25) selects manual mode, cdr=True
divides the photodiode current by 8 (8x range), continuous=True measures back to back.
"""
from drivers.bus import I2CDevice, describe

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_CONFIG = const(0x02)
_LUX_HIGH = const(0x03)
_LUX_LOW = const(0x04)
_CONT = const(0x80)
_MANUAL = const(0x40)
_CDR = const(0x08)
_TIMES = (800, 400, 200, 100, 50, 25, 12.5, 6.25)


class MAX44009:
    CHIP = "MAX44009"
    QUANTITIES = ("lux",)
    ADDRESSES = (0x4A, 0x4B)

    def __init__(self, bus, address=0x4A, integration_ms=None, cdr=False, continuous=False):
        if integration_ms is not None and integration_ms not in _TIMES:
            raise ValueError("MAX44009 integration_ms must be one of %r or None (automatic), not %r"
                             % (_TIMES, integration_ms))
        self.address = address
        self._dev = dev = I2CDevice(bus, address, self.CHIP)
        b = bytearray(2)
        dev.read_reg_into(_CONFIG, b)
        cfg = b[0]
        if b[0] != b[1] or cfg & 0x30:
            raise dev.error("2-byte read at 0x02 gave %02x %02x: a MAX44009 repeats the register "
                            "and keeps bits 5:4 at 0" % (b[0], b[1]))
        dev.read_reg_into(_LUX_LOW, b)
        if b[0] != b[1] or b[0] & 0xF0:
            raise dev.error("2-byte read at 0x04 gave %02x %02x: a MAX44009 repeats the register "
                            "and keeps bits 7:4 at 0" % (b[0], b[1]))
        want = _CONT if continuous else 0
        if integration_ms is not None:
            want |= _MANUAL | (_CDR if cdr else 0) | _TIMES.index(integration_ms)
        # In automatic mode CDR and TIM are the chip's own business (they read back its choice).
        if cfg & (0xCF if integration_ms is not None else 0xC0) != want:
            dev.write_reg(_CONFIG, bytes((want,)))
            # A new configuration restarts the measurement: wait for its first result.
            dev.sleep_ms(800 + (int(integration_ms) + 1 if integration_ms else 0))
        self.config = want
        self._hi = bytearray(1)
        self._lo = bytearray(1)
        self._p3 = bytes((_LUX_HIGH,))
        self._p4 = bytes((_LUX_LOW,))
        # machine.I2C chains repeated starts itself; smbus2 takes the 4 messages in one
        # i2c_rdwr; the busio adapter cannot, so it gets two transactions.
        self._raw = bus
        if hasattr(bus, "readfrom_mem_into"):
            self._kind = 0
        elif hasattr(bus, "i2c_rdwr"):
            self._kind = 1
        else:
            self._kind = 2

    def _read_pair(self):
        dev = self._dev
        bus = self._raw
        a = self.address
        try:
            if self._kind == 0:
                bus.writeto(a, self._p4, False)
                bus.readfrom_into(a, self._lo, False)
                bus.writeto(a, self._p3, False)
                bus.readfrom_into(a, self._hi)
            elif self._kind == 1:
                from smbus2 import i2c_msg
                lo = i2c_msg.read(a, 1)
                hi = i2c_msg.read(a, 1)
                bus.i2c_rdwr(i2c_msg.write(a, self._p4), lo, i2c_msg.write(a, self._p3), hi)
                self._lo[0] = list(lo)[0]
                self._hi[0] = list(hi)[0]
            else:
                dev.read_reg_into(_LUX_LOW, self._lo)
                dev.read_reg_into(_LUX_HIGH, self._hi)
                return
        except OSError as e:
            raise dev.error("%s reading the lux registers" % describe(e))

    def read(self):
        self._read_pair()
        hi = self._hi[0]
        lo = self._lo[0]
        if lo & 0xF0:
            raise self._dev.error("lux low byte 0x%02x has reserved bits 7:4 set: not the chip's "
                                  "register" % lo)
        e = hi >> 4
        if e == 15:
            raise self._dev.error("overrange (lux high byte 0x%02x)%s" % (
                hi, ": use cdr=True or a shorter integration_ms" if self.config & _MANUAL else ""))
        return {"lux": (1 << e) * (((hi & 0x0F) << 4) | lo) * 0.045}
