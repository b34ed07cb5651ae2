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
    const = int

_CMD = const(0x80)
_BLOCK = const(0x10)
_CONTROL = const(0x0)
_TIMING = const(0x1)
_ID = const(0xA)
_DATA0LOW = const(0xC)
_POWER_UP = const(0x03)


class TSL2561(I2CDevice):
    CHIP = "TSL2561"
    QUANTITIES = ("lux",)
    ADDRESSES = (0x29, 0x39, 0x49)
    _IDENTITY = const(2)  # part number nibble of ID register 0x0A (0x5x)

    def __init__(self, bus, address=0x39, gain=1, integration_ms=402):
        if integration_ms * 10 == 137:   # 13.7 (a float constant would be a heap object)
            integration_ms = 13
        if (gain != 1 and gain != 16) or (integration_ms != 13 and integration_ms != 101
                                           and integration_ms != 402):
            raise ValueError("TSL2561: gain 1 or 16, integration_ms 13 (13.7), 101 or 402; not %r, %r"
                             % (gain, integration_ms))
        I2CDevice.__init__(self, bus, address)
        self.gain = gain
        self.integration_ms = integration_ms
        self._buf = b = bytearray(4)
        self.read_reg_into(_CMD | _ID, memoryview(b)[:1])
        # PARTNO 0100 (TSL2560) or 0101 (TSL2561), T/FN/CL package.
        if b[0] & 0xE0 != 0x40:
            raise self.error("ID register 0x0A reads 0x%02x: a TSL2561 T/FN/CL has 0x5x "
                             "(0x0x/0x1x: CS package, other lux formula)" % b[0])
        self._power_up()
        # No "data valid" bit on this chip: let one full integration pass (+5 %).
        self.sleep_ms((14 if integration_ms == 13 else integration_ms) * 105 // 100 + 1)

    def _power_up(self):
        b = self._buf
        # Both writes go out of the data buffer: constant command bytes would be heap.
        two = memoryview(b)[:2]
        b[0] = _CMD | _CONTROL
        b[1] = _POWER_UP
        self.write(two)
        self.read_reg_into(_CMD | _CONTROL, two[:1])
        # Datasheet: CONTROL written with 0x03 reads back 0x03 -- the chip's own liveness check.
        if b[0] & 0x03 != _POWER_UP:
            raise self.error("CONTROL reads 0x%02x after power-up, want 0x03" % b[0])
        t = self.integration_ms
        b[0] = _CMD | _TIMING
        b[1] = (0x10 if self.gain == 16 else 0) | (0 if t == 13 else 1 if t == 101 else 2)
        self.write(two)

    def read(self):
        b = self._buf
        self.write_then_read_into(b"\x9c", b)   # CMD | BLOCK | DATA0LOW
        ch0 = b[0] | (b[1] << 8)
        ch1 = b[2] | (b[3] << 8)
        t = self.integration_ms
        full = 5047 if t == 13 else 37177 if t == 101 else 65535
        if ch0 >= full or ch1 >= full:
            raise self.error(("saturated: lower the gain or integration time (CH0 %d, CH1 %d, "
                              "full scale %d at gain %d, %d ms)" if max(ch0, ch1) == full else
                              "counts above full scale: not the chip's data (CH0 %d, CH1 %d, "
                              "full scale %d at gain %d, %d ms)") % (ch0, ch1, full, self.gain, t))
        if ch0 == 0:
            # Darkness, or a chip that lost power (it comes back powered down with zeroed
            # data): CONTROL tells them apart, and only this rare case pays the extra read.
            self.read_reg_into(_CMD | _CONTROL, memoryview(b)[:1])
            if b[0] & 0x03 != _POWER_UP:
                c = b[0]
                self._power_up()
                raise self.error("found powered down (CONTROL 0x%02x): chip reset? powered up again" % c)
            x = 0
        # "Calculating Lux" (T, FN, CL): the datasheet's float formula, with coefficients
        # in 1e-5 lx per count and the CH1/CH0 bounds as integer comparisons, so that no
        # float constant but the exponent is kept (each would be a heap object). Each
        # region's line stays positive up to its bound: no clamping.
        elif 2 * ch1 <= ch0:           # CH1/CH0 <= 0.50
            x = ch0 * (3040 - 6200 * (ch1 / ch0) ** 1.4)
        elif 100 * ch1 <= 61 * ch0:    # <= 0.61
            x = 2240 * ch0 - 3100 * ch1
        elif 5 * ch1 <= 4 * ch0:       # <= 0.80
            x = 1280 * ch0 - 1530 * ch1
        elif 10 * ch1 <= 13 * ch0:     # <= 1.30
            x = 146 * ch0 - 112 * ch1
        else:
            x = 0
        # Counts normalised to the formula's 16x and 402 ms: 322/11 (13.7 ms), 322/81 (101 ms).
        div = 11 if t == 13 else 81 if t == 101 else 322
        return {"lux": x * (16 // self.gain) * 322 / (div * 100000)}
