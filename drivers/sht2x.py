"""SHT2x / HTU21D / Si7021 humidity and temperature sensor (I2C 0x40).

    from drivers.sht2x import SHT2X
    sensor = SHT2X(i2c, resolution=(12, 14))     # (RH bits, T bits)
    sensor.read()        # {"temperature": 21.5, "humidity": 45.2}  (C, %RH)

Measurements use the no-hold-master commands (0xF3 T, 0xF5 RH: no clock
stretching, which some MicroPython ports time out on), wait the datasheet's
maximum conversion time for the resolution, then read MSB, LSB, CRC. Identity:
after a soft reset the user register must read the documented reset state.
"""
from drivers.bus import I2CDevice
from drivers.crc import word

# User register bits 7,0 -> (RH bits, T bits) (SHT21 datasheet table 8) and the
# maximum measuring times in ms (table 7: T 85/22/43/11, RH 29/4/9/15).
RESOLUTIONS = ((12, 14), (8, 12), (10, 13), (11, 11))
_T_MS = (85, 22, 43, 11)
_RH_MS = (29, 4, 9, 15)
_RESET = b"\xfe"
_READ_USER = b"\xe7"
_T = b"\xf3"
_RH = b"\xf5"


class SHT2X:
    CHIP = "SHT2x"
    QUANTITIES = ("temperature", "humidity")
    ADDRESSES = (0x40,)

    def __init__(self, bus, address=0x40, resolution=(12, 14)):
        self.address = address
        self._dev = dev = I2CDevice(bus, address, "SHT2x")
        if resolution not in RESOLUTIONS:
            raise ValueError("SHT2x resolution (RH bits, T bits) must be one of %r" % (RESOLUTIONS,))
        code = RESOLUTIONS.index(resolution)
        self.resolution = resolution
        self._buf = buf = bytearray(3)
        one = memoryview(buf)[:1]
        dev.write(_RESET)
        dev.sleep_ms(15)  # soft reset time (datasheet 5.5)
        dev.write(_READ_USER)
        dev.read_into(one)
        # After reset: resolution bits 7,0 = 00 and "disable OTP reload" bit 1 = 1.
        if buf[0] & 0x83 != 0x02:
            raise dev.error("not an SHT2x/HTU21D: user register after soft reset reads 0x%02x "
                            "(want bits 7,1,0 = 0,1,0)" % buf[0])
        user = (buf[0] & 0x7E) | ((code & 2) << 6) | (code & 1)
        buf[1] = user
        buf[0] = 0xE6
        dev.write(memoryview(buf)[:2])
        dev.write(_READ_USER)
        dev.read_into(one)
        if buf[0] != user:
            raise dev.error("user register reads 0x%02x after writing 0x%02x" % (buf[0], user))
        self._t_ms = _T_MS[code]
        self._rh_ms = _RH_MS[code]

    def _measure(self, cmd, ms, what, kind):
        dev = self._dev
        buf = self._buf
        dev.write(cmd)
        dev.sleep_ms(ms)
        dev.read_into(buf)
        raw = word(dev, buf, 0, what, 0x00)
        # Bit 1 of the LSB says what was measured: 0 temperature, 1 humidity (datasheet 6).
        if raw & 0x0002 != kind:
            raise dev.error("%s read returned a %s word 0x%04x" % (what, "humidity" if kind == 0 else "temperature", raw))
        return raw & 0xFFFC

    def read(self):
        st = self._measure(_T, self._t_ms, "temperature", 0)
        srh = self._measure(_RH, self._rh_ms, "humidity", 2)
        # Conversion of signal output, SHT21 datasheet 6.1 and 6.2.
        t = -46.85 + 175.72 * st / 65536
        rh = -6 + 125 * srh / 65536
        if not -40.5 <= t <= 125.5 or not -1 <= rh <= 101:
            raise self._dev.error("raw T 0x%04x / RH 0x%04x out of range (%.2f C, %.2f %%RH)" % (st, srh, t, rh))
        return {"temperature": t, "humidity": min(100.0, max(0.0, rh))}
