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
    const = int

_CONFIG = const(0x02)
_LUX_HIGH = const(0x03)
_LUX_LOW = const(0x04)
_CONT = const(0x80)
_MANUAL = const(0x40)
_CDR = const(0x08)


class MAX44009(I2CDevice):
    CHIP = "MAX44009"
    QUANTITIES = ("lux",)
    ADDRESSES = (0x4A, 0x4B)
    _IDENTITY = const(1)  # register pattern only: no ID register (repeat, reserved bits 0)

    def __init__(self, bus, address=0x4A, integration_ms=None, cdr=False, continuous=False):
        if integration_ms is not None:
            # TIM code n integrates 800 / 2^n ms (configuration register): worked out,
            # as a table (and its floats 12.5 and 6.25) would be heap objects.
            for tim in range(8):
                if integration_ms == 800 / (1 << tim):
                    break
            else:
                raise ValueError("MAX44009 integration_ms must be one of 800, 400, 200, 100, 50, 25, "
                                 "12.5, 6.25 or None (automatic), not %r" % (integration_ms,))
        I2CDevice.__init__(self, bus, address)
        b = bytearray(2)
        self.read_reg_into(_CONFIG, b)
        cfg = b[0]
        if b[0] != b[1] or cfg & 0x30:
            raise self.error("2-byte read at 0x02 gave %02x %02x: a MAX44009 repeats the register "
                             "and keeps bits 5:4 at 0" % (b[0], b[1]))
        self.read_reg_into(_LUX_LOW, b)
        if b[0] != b[1] or b[0] & 0xF0:
            raise self.error("2-byte read at 0x04 gave %02x %02x: a MAX44009 repeats the register "
                             "and keeps bits 7:4 at 0" % (b[0], b[1]))
        want = _CONT if continuous else 0
        if integration_ms is not None:
            want |= _MANUAL | (_CDR if cdr else 0) | tim
        # In automatic mode CDR and TIM are the chip's own business (they read back its choice).
        if cfg & (0xCF if integration_ms is not None else 0xC0) != want:
            b[0] = want
            self.write_reg(_CONFIG, memoryview(b)[:1])
            # A new configuration restarts the measurement: wait for its first result.
            self.sleep_ms(800 + (int(integration_ms) + 1 if integration_ms else 0))
        self.config = want
        self._hi = bytearray(1)
        self._lo = bytearray(1)
        # machine.I2C chains repeated starts itself; smbus2 takes the 4 messages in one
        # i2c_rdwr; the busio adapter cannot, so it gets two transactions.
        if self.bus is bus:     # I2CDevice took it as it is: machine.I2C-like
            self._kind = 0
        elif hasattr(bus, "i2c_rdwr"):
            self._kind = 1
        else:
            self._kind = 2

    def _read_pair(self):
        bus = self.bus
        a = self.address
        try:
            if self._kind == 0:
                bus.writeto(a, b"\x04", False)   # lux low, then lux high
                bus.readfrom_into(a, self._lo, False)
                bus.writeto(a, b"\x03", False)
                bus.readfrom_into(a, self._hi)
            elif self._kind == 1:
                from smbus2 import i2c_msg
                lo = i2c_msg.read(a, 1)
                hi = i2c_msg.read(a, 1)
                # The adapter's bus is the smbus2.SMBus itself.
                bus.bus.i2c_rdwr(i2c_msg.write(a, b"\x04"), lo, i2c_msg.write(a, b"\x03"), hi)
                self._lo[0] = list(lo)[0]
                self._hi[0] = list(hi)[0]
            else:
                self.read_reg_into(_LUX_LOW, self._lo)
                self.read_reg_into(_LUX_HIGH, self._hi)
                return
        except OSError as e:
            raise self.error("%s reading the lux registers" % describe(e))

    def read(self):
        self._read_pair()
        hi = self._hi[0]
        lo = self._lo[0]
        if lo & 0xF0:
            raise self.error("lux low byte 0x%02x has reserved bits 7:4 set: not the chip's "
                             "register" % lo)
        e = hi >> 4
        if e == 15:
            raise self.error("overrange (lux high byte 0x%02x)%s" % (
                hi, ": use cdr=True or a shorter integration_ms" if self.config & _MANUAL else ""))
        # 0.045 lx per count (datasheet "Lux Reading"), as 45 / 1000: no float constant.
        return {"lux": (1 << e) * (((hi & 0x0F) << 4) | lo) * 45 / 1000}
