"""TSL2591 (ams) ambient light sensor over I2C.

    from drivers.tsl2591 import TSL2591
    sensor = TSL2591(i2c, gain=25, integration_ms=100)   # address 0x29
    sensor.read()   # {"lux": lx}

The chip integrates continuously once enabled; read() is one combined transaction:
command 0xB3 (normal transaction, STATUS) then 5 bytes STATUS, C0DATAL..C1DATAH.
Lux: counts per lux = integration_ms * gain / 408, lux = max(C0 - 1.64 C1,
0.59 C0 - 0.86 C1) / CPL (the formula of ams' application note as used by the
Adafruit drivers, so both agree on the same chip). Gains 1, 25, 428, 9876;
integration 100..600 ms in 100 ms steps. A saturated channel raises SensorError:
lower the gain or the integration time.
"""
from drivers.bus import I2CDevice

try:
    from micropython import const
except ImportError:
    const = int

_CMD = const(0xA0)        # CMD bit + normal transaction
_ENABLE = const(0x00)
_ID = const(0x12)
_AVALID = const(0x01)
_PON_AEN = const(0x03)


class TSL2591(I2CDevice):
    CHIP = "TSL2591"
    QUANTITIES = ("lux",)
    ADDRESSES = (0x29,)
    _IDENTITY = const(3)  # ID register 0x12 = 0x50: a whole fixed byte

    def __init__(self, bus, address=0x29, gain=25, integration_ms=100):
        if gain != 1 and gain != 25 and gain != 428 and gain != 9876:
            raise ValueError("TSL2591 gain must be one of 1, 25, 428, 9876, not %r" % (gain,))
        if integration_ms % 100 or not 100 <= integration_ms <= 600:
            raise ValueError("TSL2591 integration_ms must be 100..600 in steps of 100, not %r"
                             % (integration_ms,))
        I2CDevice.__init__(self, bus, address)
        self.gain = gain
        self.integration_ms = integration_ms
        self._buf = b = bytearray(5)
        self.read_reg_into(_CMD | _ID, memoryview(b)[:1])
        if b[0] != 0x50:
            raise self.error("ID register 0x12 reads 0x%02x, a TSL2591 has 0x50" % b[0])
        self._enable()

    def _enable(self):
        b = self._buf
        # Power off first (one auto-increment write: ENABLE=0, CONTROL): that clears
        # AVALID, so no result integrated with older settings can pass as ours.
        g = self.gain
        again = 0 if g == 1 else 1 if g == 25 else 2 if g == 428 else 3
        b[0] = _CMD | _ENABLE
        b[1] = 0x00
        b[2] = (again << 4) | (self.integration_ms // 100 - 1)   # CONTROL: AGAIN, ATIME
        self.write(memoryview(b)[:3])
        b[1] = _PON_AEN
        self.write(memoryview(b)[:2])

    def read(self):
        b = self._buf
        ms = self.integration_ms
        for attempt in range(3):
            self.write_then_read_into(b"\xb3", b)   # CMD | STATUS
            if b[0] & 0xCE:
                raise self.error("STATUS reads 0x%02x: reserved bits set, not the chip's register"
                                 % b[0])
            if b[0] & _AVALID:
                break
            # First cycle after enable still running: wait one integration time.
            self.sleep_ms(ms + 10)
        else:
            # A chip that lost power comes back disabled: set it up again for the next read.
            self._enable()
            raise self.error("no ALS result (AVALID stays 0) after %d ms; re-enabled"
                             % (3 * (ms + 10)))
        c0 = b[1] | (b[2] << 8)
        c1 = b[3] | (b[4] << 8)
        full = 37888 if ms == 100 else 65535
        if c0 >= full or c1 >= full:
            raise self.error("saturated (CH0 %d, CH1 %d, full scale %d at gain %d, %d ms): "
                             "lower the gain or integration time"
                             % (c0, c1, full, self.gain, ms))
        if c1 > c0:
            raise self.error("IR channel above full-spectrum channel (CH0 %d, CH1 %d): "
                             "not a real reading" % (c0, c1))
        # In hundredths of counts and 408/100 = 102/25: integers until the one division
        # (float constants would be heap objects), small ints even on a 32-bit port.
        x = max(100 * c0 - 164 * c1, 59 * c0 - 86 * c1)
        return {"lux": (x if x > 0 else 0) * 102 / (25 * ms * self.gain)}
