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

# const() for CPython only: MicroPython folds it away when it compiles, and an
# imported name would take a slot of this module's globals in the loop's heap.
if __import__("sys").implementation.name != "micropython":
    const = int


class SHT2X(I2CDevice):
    CHIP = "SHT2x"
    QUANTITIES = ("temperature", "humidity")
    ADDRESSES = (0x40,)
    _IDENTITY = const(2)  # user register's documented state after a soft reset

    def __init__(self, bus, address=0x40, resolution=(12, 14)):
        # User register bits 7,0 -> (RH bits, T bits) (SHT21 datasheet table 8) and the
        # maximum measuring times in ms (table 7), by comparisons: tables would be heap.
        rh_bits, t_bits = resolution
        if rh_bits == 12 and t_bits == 14:
            code, self._t_ms, self._rh_ms = 0, 85, 29
        elif rh_bits == 8 and t_bits == 12:
            code, self._t_ms, self._rh_ms = 1, 22, 4
        elif rh_bits == 10 and t_bits == 13:
            code, self._t_ms, self._rh_ms = 2, 43, 9
        elif rh_bits == 11 and t_bits == 11:
            code, self._t_ms, self._rh_ms = 3, 11, 15
        else:
            raise ValueError("SHT2x resolution (RH bits, T bits) must be (12, 14), (8, 12), "
                             "(10, 13) or (11, 11)")
        I2CDevice.__init__(self, bus, address)
        self.resolution = resolution
        self._buf = buf = bytearray(3)
        one = memoryview(buf)[:1]
        buf[0] = 0xFE    # soft reset
        self.write(one)
        self.sleep_ms(15)  # soft reset time (datasheet 5.5)
        buf[0] = 0xE7    # read user register
        self.write(one)
        self.read_into(one)
        # After reset: resolution bits 7,0 = 00 and "disable OTP reload" bit 1 = 1.
        if buf[0] & 0x83 != 0x02:
            raise self.error("not an SHT2x/HTU21D: user register after soft reset reads 0x%02x "
                             "(want bits 7,1,0 = 0,1,0)" % buf[0])
        user = (buf[0] & 0x7E) | ((code & 2) << 6) | (code & 1)
        buf[1] = user
        buf[0] = 0xE6    # write user register
        self.write(memoryview(buf)[:2])
        buf[0] = 0xE7
        self.write(one)
        self.read_into(one)
        if buf[0] != user:
            raise self.error("user register reads 0x%02x after writing 0x%02x" % (buf[0], user))

    def _measure(self, cmd, ms, what, kind):
        buf = self._buf
        buf[0] = cmd
        self.write(memoryview(buf)[:1])
        self.sleep_ms(ms)
        self.read_into(buf)
        raw = word(self, buf, 0, what, 0x00)
        # Bit 1 of the LSB says what was measured: 0 temperature, 1 humidity (datasheet 6).
        if raw & 0x0002 != kind:
            raise self.error("%s read returned a %s word 0x%04x" % (what, "humidity" if kind == 0 else "temperature", raw))
        return raw & 0xFFFC

    def read(self):
        st = self._measure(0xF3, self._t_ms, "temperature", 0)
        srh = self._measure(0xF5, self._rh_ms, "humidity", 2)
        # Conversion of signal output, SHT21 datasheet 6.1 and 6.2, in integers until
        # the last division (float constants would be heap objects):
        # T = -46.85 + 175.72 st / 2^16, RH = -6 + 125 srh / 2^16.
        t = (17572 * st / 65536 - 4685) / 100
        h = 125 * srh - 393216                  # RH in 1/65536 %RH
        if not -4050 <= 100 * t <= 12550 or not -65536 <= h <= 6619136:
            raise self.error("raw T 0x%04x / RH 0x%04x out of range (%.2f C, %.2f %%RH)"
                             % (st, srh, t, h / 65536))
        # RH within 0..100 %, still a float.
        return {"temperature": t, "humidity": (0 if h < 0 else 6553600 if h > 6553600 else h) / 65536}
