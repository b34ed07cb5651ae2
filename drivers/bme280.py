"""BME280 (Bosch) temperature, humidity and pressure over I2C, forced mode.

    from drivers.bme280 import BME280
    sensor = BME280(i2c, address=0x76)     # 0x76 (SDO low) or 0x77 (SDO high)
    sensor.read()   # {"temperature": degC, "humidity": %RH, "pressure": hPa}

One read() = one write of ctrl_meas (start a forced measurement), a wait of the
datasheet's typical measurement time, one burst read status..hum_lsb (0xF3..0xFE):
two transactions when the measurement is done in time. Compensation: the
datasheet's integer formulas (BST-BME280-DS002 section 4.2.3) with the chip's own
calibration registers (4.2.2), read once at construction.
"""
import struct

from drivers.bus import I2CDevice

try:
    from micropython import const
except ImportError:
    const = int

_ID = const(0xD0)
_CHIP_ID = const(0x60)
_CALIB_A = const(0x88)   # T1..P9, 24 bytes, then 0xA0 unused, 0xA1 = H1
_CALIB_B = const(0xE1)   # H2..H6, 7 bytes
_CTRL_HUM = const(0xF2)
_STATUS = const(0xF3)
_CTRL_MEAS = const(0xF4)
_CONFIG = const(0xF5)
_MEASURING = const(0x08)
_FORCED = const(0x01)
_SKIPPED_20 = const(0x80000)
_SKIPPED_16 = const(0x8000)

# Oversampling samples by register code (5.4.3 / 5.4.5): code = index.
_SAMPLES = (0, 1, 2, 4, 8, 16)


class BME280(I2CDevice):
    CHIP = "BME280"
    QUANTITIES = ("temperature", "humidity", "pressure")
    ADDRESSES = (0x76, 0x77)
    _IDENTITY = const(3)  # chip ID register 0xD0 = 0x60, calibration not blank

    def __init__(self, bus, address=0x76, oversampling=(1, 1, 1)):
        """oversampling = (temperature, pressure, humidity) samples, each 1/2/4/8/16
        (0 skips pressure or humidity; read() then omits that key)."""
        os_t, os_p, os_h = oversampling
        if not (os_t and os_t in _SAMPLES and os_p in _SAMPLES and os_h in _SAMPLES):
            raise ValueError("BME280 oversampling (T, P, H): 1/2/4/8/16 samples, 0 skips P or H, "
                             "not %r" % (oversampling,))
        I2CDevice.__init__(self, bus, address)
        self._os = oversampling
        self._buf = b = bytearray(12)
        self.read_reg_into(_ID, memoryview(b)[:1])
        if b[0] != _CHIP_ID:
            raise self.error("chip id register 0xD0 reads 0x%02x, not 0x60 (BMP280: 0x58, "
                             "BME680: 0x61)" % b[0])
        calib = bytearray(33)
        self.read_reg_into(_CALIB_A, memoryview(calib)[:26])
        self.read_reg_into(_CALIB_B, memoryview(calib)[26:])
        if calib[0] | calib[1] == 0 or calib[0] & calib[1] & calib[2] == 0xFF:
            raise self.error("calibration registers 0x88.. are blank (%s...)" % bytes(calib[:6]).hex())
        # T1..T3, P1..P9, (0xA0 unused) H1, H2, H3, then 0xE4..0xE6 holding H4/H5 (12-bit,
        # sharing 0xE5, signed high parts in 0xE4/0xE6: assembled in read()), and H6 (4.2.2).
        self._cal = struct.unpack("<HhhHhhhhhhhhxBhBbBbb", calib)
        code = _SAMPLES.index
        self._meas = (code(os_t) << 5) | (code(os_p) << 2)
        # ctrl_hum only takes effect with the next ctrl_meas write (5.4.3); the chip takes
        # register/value pairs in one write (6.2.1): one transaction sets all three.
        self._ctrl = bytes((_CTRL_HUM, code(os_h), _CONFIG, 0, _CTRL_MEAS, self._meas))
        self.write(self._ctrl)
        # 9.1: typical measurement time (first look at status), and the maximum (give up),
        # in integer arithmetic: typ 1 + 2n (+0.5 for P, +0.5 for H), max 1.25 + 2.3n (+0.575 each).
        n = os_t + os_p + os_h
        ph = (os_p > 0) + (os_h > 0)
        self._typ_ms = 2 + 2 * n + ph // 2
        self._max_ms = (1250 + 2300 * n + 575 * ph) // 1000 + 3

    def read(self):
        b = self._buf
        # Start from the data buffer (read_reg_into refills it): no resident command bytes.
        b[0] = _CTRL_MEAS
        b[1] = self._meas | _FORCED
        self.write(memoryview(b)[:2])
        self.sleep_ms(self._typ_ms)
        waited = self._typ_ms
        while True:
            self.read_reg_into(_STATUS, b)
            if b[0] & 0xF6:
                raise self.error("status 0x%02x: reserved bits set" % b[0])
            if not b[0] & _MEASURING:
                break
            if waited >= self._max_ms:
                raise self.error("still measuring %d ms after the start (datasheet max %d ms)"
                                 % (waited, self._max_ms - 3))
            self.sleep_ms(1)
            waited += 1
        # After a forced measurement the chip is back in sleep mode with our settings:
        # anything else is a reset chip or bytes that are not the chip's registers.
        if b[1] != self._meas or b[6] & 0x0F or b[9] & 0x0F:
            raise self.error("implausible registers 0xF3.. after a measurement: %s (want ctrl_meas "
                             "0x%02x)" % (bytes(b).hex(), self._meas))
        adc_t = (b[7] << 12) | (b[8] << 4) | (b[9] >> 4)
        adc_p = (b[4] << 12) | (b[5] << 4) | (b[6] >> 4)
        adc_h = (b[10] << 8) | b[11]
        what = ("temperature" if adc_t == _SKIPPED_20 else
                "pressure" if self._os[1] and adc_p == _SKIPPED_20 else
                "humidity" if self._os[2] and adc_h == _SKIPPED_16 else None)
        if what:
            # A reset (brown-out) clears ctrl_hum: our ctrl_meas write then skips humidity.
            # Restore all our settings so the next read() is whole, and report this one.
            self.write(self._ctrl)
            raise self.error(what + " result is the reset value: no measurement done (chip reset? "
                             "settings rewritten)")
        # --- datasheet 4.2.3 integer compensation ---
        t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, h1, h2, h3, e4, e5, e6, h6 = self._cal
        d = (adc_t >> 4) - t1
        t_fine = ((((adc_t >> 3) - (t1 << 1)) * t2) >> 11) + ((((d * d) >> 12) * t3) >> 14)
        # (integer constants below: no boxed float objects in the driver's RAM)
        t = ((t_fine * 5 + 128) >> 8) / 100
        if not -45 <= t <= 90:
            raise self.error("temperature %.2f C (raw 0x%05x) out of the chip's -40..85 C"
                             % (t, adc_t))
        out = {"temperature": t}
        if self._os[1]:
            v1 = t_fine - 128000
            v2 = v1 * v1 * p6 + ((v1 * p5) << 17) + (p4 << 35)
            v1 = ((v1 * v1 * p3) >> 8) + ((v1 * p2) << 12)
            v1 = (((1 << 47) + v1) * p1) >> 33
            p = 0
            if v1:
                n = ((1048576 - adc_p) << 31) - v2
                # C int64 division truncates toward zero; Python's // floors.
                q = (abs(n) * 3125) // v1
                q = -q if n < 0 else q
                v1 = (p9 * (q >> 13) * (q >> 13)) >> 25
                v2 = (p8 * q) >> 19
                p = (((q + v1 + v2) >> 8) + (p7 << 4)) / 25600   # Q24.8 Pa -> hPa
            if not 250 <= p <= 1150:
                raise self.error("pressure %.2f hPa (raw 0x%05x) out of the chip's 300..1100 hPa"
                                 % (p, adc_p))
            out["pressure"] = p
        if self._os[2]:
            h4 = (e4 << 4) | (e5 & 0x0F)
            h5 = (e6 << 4) | (e5 >> 4)
            v = t_fine - 76800
            v = ((((adc_h << 14) - (h4 << 20) - (h5 * v)) + 16384) >> 15) * (
                ((((((v * h6) >> 10) * (((v * h3) >> 11) + 32768)) >> 10) + 2097152) * h2 + 8192) >> 14)
            v -= ((((v >> 15) * (v >> 15)) >> 7) * h1) >> 4
            v = 0 if v < 0 else 419430400 if v > 419430400 else v
            out["humidity"] = (v >> 12) / 1024
        return out

