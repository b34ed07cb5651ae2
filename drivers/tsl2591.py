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
    def const(x):
        return x

_CMD = const(0xA0)        # CMD bit + normal transaction
_ENABLE = const(0x00)
_ID = const(0x12)
_STATUS = const(0x13)
_AVALID = const(0x01)
_PON_AEN = const(0x03)

_GAINS = (1, 25, 428, 9876)


class TSL2591:
    CHIP = "TSL2591"
    QUANTITIES = ("lux",)
    ADDRESSES = (0x29,)

    def __init__(self, bus, address=0x29, gain=25, integration_ms=100):
        if gain not in _GAINS:
            raise ValueError("TSL2591 gain must be one of 1, 25, 428, 9876, not %r" % (gain,))
        if integration_ms not in (100, 200, 300, 400, 500, 600):
            raise ValueError("TSL2591 integration_ms must be 100..600 in steps of 100, not %r"
                             % (integration_ms,))
        self.address = address
        self._dev = dev = I2CDevice(bus, address, self.CHIP)
        self._buf = bytearray(5)
        b = self._buf
        dev.read_reg_into(_CMD | _ID, memoryview(b)[:1])
        if b[0] != 0x50:
            raise dev.error("ID register 0x12 reads 0x%02x, a TSL2591 has 0x50" % b[0])
        self.gain = gain
        self.integration_ms = integration_ms
        atime = integration_ms // 100 - 1
        control = (_GAINS.index(gain) << 4) | atime
        # Power off first (one auto-increment write: ENABLE=0, CONTROL): that clears
        # AVALID, so no result integrated with older settings can pass as ours.
        self._off = bytes((_CMD | _ENABLE, 0x00, control))
        self._on = bytes((_CMD | _ENABLE, _PON_AEN))
        dev.write(self._off)
        dev.write(self._on)
        self._cpl = integration_ms * gain / 408.0
        self._full = 37888 if atime == 0 else 65535
        self._cmd = bytes((_CMD | _STATUS,))

    def read(self):
        dev = self._dev
        b = self._buf
        for attempt in range(3):
            dev.write_then_read_into(self._cmd, b)
            if b[0] & 0xCE:
                raise dev.error("STATUS reads 0x%02x: reserved bits set, not the chip's register"
                                % b[0])
            if b[0] & _AVALID:
                break
            # First cycle after enable still running: wait one integration time.
            dev.sleep_ms(self.integration_ms + 10)
        else:
            # A chip that lost power comes back disabled: set it up again for the next read.
            dev.write(self._off)
            dev.write(self._on)
            raise dev.error("no ALS result (AVALID stays 0) after %d ms; re-enabled"
                            % (3 * (self.integration_ms + 10)))
        c0 = b[1] | (b[2] << 8)
        c1 = b[3] | (b[4] << 8)
        if c0 >= self._full or c1 >= self._full:
            raise dev.error("saturated (CH0 %d, CH1 %d, full scale %d at gain %d, %d ms): "
                            "lower the gain or integration time"
                            % (c0, c1, self._full, self.gain, self.integration_ms))
        if c1 > c0:
            raise dev.error("IR channel above full-spectrum channel (CH0 %d, CH1 %d): "
                            "not a real reading" % (c0, c1))
        cpl = self._cpl
        lux = max(c0 - 1.64 * c1, 0.59 * c0 - 0.86 * c1) / cpl
        return {"lux": lux if lux > 0 else 0.0}
