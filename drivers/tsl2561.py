"""TSL2561 (TAOS/ams, T/FN/CL package) ambient light sensor over I2C.

    from drivers.tsl2561 import TSL2561
    sensor = TSL2561(i2c, address=0x39, gain=1, integration_ms=402)  # 0x29 / 0x39 / 0x49
    sensor.read()   # {"lux": lx}

read() is one combined transaction: command 0x9C (CMD + BLOCK, DATA0LOW), then the
four data bytes CH0 low/high, CH1 low/high. Lux from the datasheet's "Calculating
Lux" formula for the T, FN and CL packages (CS packages use other coefficients and
are refused). Gain 1 or 16, integration 13.7 (pass 13), 101 or 402 ms. A channel at
(or above) its full scale raises SensorError: lower the gain or integration time.
"""
from drivers.bus import I2CDevice

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_CMD = const(0x80)
_BLOCK = const(0x10)
_CONTROL = const(0x0)
_TIMING = const(0x1)
_ID = const(0xA)
_DATA0LOW = const(0xC)
_POWER_UP = const(0x03)

_TIMES = (13, 101, 402)
_SCALE = (322.0 / 11.0, 322.0 / 81.0, 1.0)   # to the 402 ms nominal of the formula
_FULL = (5047, 37177, 65535)


class TSL2561:
    CHIP = "TSL2561"
    QUANTITIES = ("lux",)
    ADDRESSES = (0x29, 0x39, 0x49)

    def __init__(self, bus, address=0x39, gain=1, integration_ms=402):
        if integration_ms == 13.7:
            integration_ms = 13
        if gain not in (1, 16) or integration_ms not in _TIMES:
            raise ValueError("TSL2561: gain 1 or 16, integration_ms 13 (13.7), 101 or 402; not %r, %r"
                             % (gain, integration_ms))
        self.address = address
        self._dev = dev = I2CDevice(bus, address, self.CHIP)
        self._buf = bytearray(4)
        b = memoryview(self._buf)[:1]
        dev.read_reg_into(_CMD | _ID, b)
        if b[0] >> 4 not in (4, 5):
            raise dev.error("ID register 0x0A reads 0x%02x: a TSL2561 T/FN/CL has 0x5x "
                            "(0x0x/0x1x: CS package, other lux formula)" % b[0])
        i = _TIMES.index(integration_ms)
        self._setup = (bytes((_CMD | _CONTROL, _POWER_UP)),
                       bytes((_CMD | _TIMING, (0x10 if gain == 16 else 0) | i)))
        self._power_up()
        self.gain = gain
        self.integration_ms = integration_ms
        self._scale = _SCALE[i] * (16.0 / gain)
        self._full = _FULL[i]
        self._cmd = bytes((_CMD | _BLOCK | _DATA0LOW,))
        # No "data valid" bit on this chip: let one full integration pass (+5 %).
        dev.sleep_ms((402 if i == 2 else 101 if i == 1 else 14) * 105 // 100 + 1)

    def _power_up(self):
        dev = self._dev
        b = memoryview(self._buf)[:1]
        dev.write(self._setup[0])
        dev.read_reg_into(_CMD | _CONTROL, b)
        # Datasheet: CONTROL written with 0x03 reads back 0x03 -- the chip's own liveness check.
        if b[0] & 0x03 != _POWER_UP:
            raise dev.error("CONTROL reads 0x%02x after power-up, want 0x03" % b[0])
        dev.write(self._setup[1])

    def read(self):
        dev = self._dev
        b = self._buf
        dev.write_then_read_into(self._cmd, b)
        ch0 = b[0] | (b[1] << 8)
        ch1 = b[2] | (b[3] << 8)
        full = self._full
        if ch0 >= full or ch1 >= full:
            raise dev.error("%s (CH0 %d, CH1 %d, full scale %d at gain %d, %d ms)" % (
                "saturated: lower the gain or integration time" if max(ch0, ch1) == full
                else "counts above full scale: not the chip's data",
                ch0, ch1, full, self.gain, self.integration_ms))
        if ch0 == 0:
            # Darkness, or a chip that lost power (it comes back powered down with zeroed
            # data): CONTROL tells them apart, and only this rare case pays the extra read.
            dev.read_reg_into(_CMD | _CONTROL, b)
            if b[0] & 0x03 != _POWER_UP:
                c = b[0]
                self._power_up()
                raise dev.error("found powered down (CONTROL 0x%02x): chip reset? powered up again" % c)
            return {"lux": 0.0}
        s = self._scale
        c0 = ch0 * s
        c1 = ch1 * s
        r = ch1 / ch0
        if r <= 0.50:
            lux = 0.0304 * c0 - 0.062 * c0 * (r ** 1.4)
        elif r <= 0.61:
            lux = 0.0224 * c0 - 0.031 * c1
        elif r <= 0.80:
            lux = 0.0128 * c0 - 0.0153 * c1
        elif r <= 1.30:
            lux = 0.00146 * c0 - 0.00112 * c1
        else:
            lux = 0.0
        return {"lux": lux if lux > 0 else 0.0}
