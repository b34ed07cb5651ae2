"""BME280Model: Bosch BME280 humidity/pressure/temperature sensor, register level.

Physics in (`temperature` degC, `humidity` %RH, `pressure` hPa), registers out.
References are to the Bosch BME280 datasheet (BST-BME280-DS002):
  4.2.2 calibration ("trimming") registers 0x88..0xA1 and 0xE1..0xE7, their layout;
  5.3/5.4 memory map: id 0xD0 = 0x60, reset 0xE0 (0xB6), ctrl_hum 0xF2, status 0xF3
        (bit 3 measuring), ctrl_meas 0xF4, config 0xF5, data 0xF7..0xFE
        (press msb/lsb/xlsb, temp msb/lsb/xlsb, hum msb/lsb), reset values 0x80 00 00 / 0x80 00;
  3.3/3.4 modes: sleep 00, forced 01/10 (one measurement then back to sleep), normal 11
        (measurement + t_standby, repeated); ctrl_hum takes effect at the next ctrl_meas write;
  3.4.x + 5.4.7/5.4.8: resolution 16 bit + (osrs-1) bits for T and P; osrs 0 = skipped,
        output stays 0x80000 (T, P) / 0x8000 (H);
  6.2.1 I2C write: register/data PAIRS, no auto-increment; reads auto-increment (burst);
  8.1 compensation in double precision: the model inverts it by bisection over the raw
        range, so any driver doing the datasheet compensation gets back what was set;
  9.1 measurement time (typical): 1 + 2*T + (2*P + 0.5) + (2*H + 0.5) ms.
Not modelled: the IIR filter (for constant inputs its output equals its input), the
im_update bit (NVM copy after reset, ~2 ms), SPI.

Small on purpose: the portable tests run SimBus + this model + the driver in the 36 KB
heap of the MicroPython unix port, so one function per job and no float tables.
"""
from drivers.sim.base import RegisterModel

# A realistic calibration set (values of the size real parts carry; T/P as in Bosch's
# worked example, H typical of BME280 parts), in register order (names in NAMES).
NAMES = "T1 T2 T3 P1 P2 P3 P4 P5 P6 P7 P8 P9 H1 H2 H3 H4 H5 H6"
CALIB = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000,
         75, 362, 0, 313, 50, 30)
# osrs field -> samples (5.4.3/5.4.5: 101 and above mean x16).
_OSR = b"\x00\x01\x02\x04\x08\x10\x10\x10"
# t_standby of config[7:5] in half milliseconds (5.4.6, BME280 values).
_STANDBY_2 = (1, 125, 250, 500, 1000, 2000, 20, 40)


class BME280Model(RegisterModel):
    def __init__(self, temperature=21.0, humidity=45.0, pressure=1013.25, calib=None,
                 chip_id=0x60):
        """calib: {"T1": .., "H6": ..} overriding entries of CALIB, or a whole tuple in
        NAMES order. `calib` stays the chip's NVM: a soft reset copies it to the registers."""
        RegisterModel.__init__(self, 256)
        self.temperature = temperature
        self.humidity = humidity
        self.pressure = pressure
        if calib is None or type(calib) is tuple:
            self.calib = calib or CALIB
        else:
            c = list(CALIB)
            for k in calib:
                c[NAMES.index(k) // 3] = calib[k]
            self.calib = tuple(c)
        self.measurements = 0
        self.regs[0xD0] = chip_id   # read-only: kept across resets
        self._reset()

    def _reset(self):
        # Byte stores, no struct/bytes objects: this runs in a 36 KB heap in the tests.
        r = self.regs
        chip_id = r[0xD0]
        for i in range(256):
            r[i] = 0
        r[0xD0] = chip_id
        c = self.calib
        # From NVM: 0x88..0x9F T1..P9 (little-endian 16-bit words), 0xA1 H1, 0xE1..0xE2
        # H2, 0xE3 H3, 0xE4..0xE6 H4/H5 (12-bit, sharing 0xE5's nibbles), 0xE7 H6 (4.2.2).
        for i in range(12):
            r[0x88 + 2 * i] = c[i] & 0xFF
            r[0x89 + 2 * i] = (c[i] >> 8) & 0xFF
        h2, h4, h5 = c[13], c[15], c[16]
        r[0xA1] = c[12]
        r[0xE1] = h2 & 0xFF
        r[0xE2] = (h2 >> 8) & 0xFF
        r[0xE3] = c[14]
        r[0xE4] = (h4 >> 4) & 0xFF
        r[0xE5] = (h4 & 0x0F) | ((h5 & 0x0F) << 4)
        r[0xE6] = (h5 >> 4) & 0xFF
        r[0xE7] = c[17] & 0xFF
        r[0xF7] = r[0xFA] = r[0xFD] = 0x80
        self._hum = 0             # ctrl_hum as latched by the last ctrl_meas write
        # Start of the forced measurement, or of the normal-mode cycle not yet completed.
        self._t0 = 0

    def write(self, data):
        # 6.2.1: a write is (register, value) pairs; a lone byte only sets the pointer.
        r = self.regs
        for i in range(0, len(data), 2):
            reg = self.ptr = data[i]
            if i + 1 == len(data) or reg not in (0xF2, 0xF4, 0xF5, 0xE0):
                continue          # read-only registers ignore writes
            value = data[i + 1]
            now = self.now()
            self.on_read(0)
            if reg == 0xE0:
                if value == 0xB6:
                    self._reset()
            elif reg != 0xF5 or r[0xF4] & 3 != 3:   # 5.4.6: config writes in normal mode may be ignored
                r[reg] = value
                if reg == 0xF4:
                    self._hum = r[0xF2] & 7
                    self._t0 = now

    def measure_ms(self):
        """Typical measurement time (9.1) for the latched oversampling settings."""
        m = self.regs[0xF4]
        p, h = _OSR[(m >> 2) & 7], _OSR[self._hum]
        return 1 + 2 * _OSR[m >> 5] + (2 * p + 0.5 if p else 0) + (2 * h + 0.5 if h else 0)

    def on_read(self, reg):
        # Brings status and data up to the model's clock.
        r = self.regs
        mode = r[0xF4] & 3
        elapsed = self.now() - self._t0
        meas = self.measure_ms()
        status = 0
        if mode == 3:
            period = meas + _STANDBY_2[r[0xF5] >> 5] / 2
            if elapsed >= meas:
                # Cycles completed since _t0: results of the last one; _t0 moves on.
                self._t0 += (int((elapsed - meas) // period) + 1) * period
                self._complete()
            if elapsed % period < meas:
                status = 0x08
        elif mode:
            if elapsed >= meas:
                self._complete()
                r[0xF4] &= 0xFC   # forced mode ends in sleep mode (3.3.3)
            else:
                status = 0x08
        r[0xF3] = status

    # --- physics -> raw (inverse of datasheet 8.1) ------------------------------
    def _complete(self):
        self.measurements += 1
        r = self.regs
        ot, op = r[0xF4] >> 5, (r[0xF4] >> 2) & 7
        # 3.4.x: 16 bit at x1, one more bit per oversampling step, 20 bit at x16: the
        # result is a multiple of 2**(5 - code). Skipped T still needs t_fine for P and H.
        adc_t = self._solve(0, self.temperature * 5120, 0, 5 - min(ot, 5) if ot else 0)
        t_fine = self.compensate(0, adc_t, 0)
        adc_p = self._solve(1, self.pressure * 100, t_fine, 5 - min(op, 5)) if op else 0x80000
        adc_h = self._solve(2, self.humidity, t_fine, 0) if self._hum else 0x8000
        if not ot:
            adc_t = 0x80000
        # 5.4.7/5.4.8: msb, lsb, xlsb[7:4]; 5.4.9: hum msb, lsb.
        for reg, v in ((0xF7, adc_p), (0xFA, adc_t)):
            r[reg] = v >> 12
            r[reg + 1] = (v >> 4) & 0xFF
            r[reg + 2] = (v << 4) & 0xF0
        r[0xFD] = adc_h >> 8
        r[0xFE] = adc_h & 0xFF

    def compensate(self, what, adc, t_fine):
        """Datasheet 8.1 in double precision: what 0 -> t_fine, 1 -> Pa, 2 -> %RH unclamped.
        (Integer constants: int / int is a float division, and no boxed float constants.)"""
        (t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, h1, h2, h3, h4, h5, h6) = self.calib
        if what == 0:
            d = adc / 131072 - t1 / 8192
            return (adc / 16384 - t1 / 1024) * t2 + d * d * t3
        if what == 1:
            v1 = t_fine / 2 - 64000
            v2 = v1 * v1 * p6 / 32768 + v1 * p5 * 2
            v2 = v2 / 4 + p4 * 65536
            v1 = (p3 * v1 * v1 / 524288 + p2 * v1) / 524288
            v1 = (1 + v1 / 32768) * p1
            p = (1048576 - adc - v2 / 4096) * 6250 / v1
            return p + (p9 * p * p / 2147483648 + p * p8 / 32768 + p7) / 16
        h = t_fine - 76800
        h = (adc - (h4 * 64 + h5 / 16384 * h)) * (
            h2 / 65536 * (1 + h6 / 67108864 * h * (1 + h3 / 67108864 * h)))
        return h * (1 - h1 * h / 524288)

    def _solve(self, what, target, t_fine, shift):
        """Raw value, a multiple of 2**shift, whose compensated value is nearest target:
        bisection over the raw range (T and H rise with the raw value, P falls)."""
        lo, hi = 0, (0xFFFF if what == 2 else 0xFFFFF) >> shift
        f = self.compensate
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if (f(what, mid << shift, t_fine) < target) == (what != 1):
                lo = mid
            else:
                hi = mid
        lo <<= shift
        hi <<= shift
        return lo if abs(f(what, lo, t_fine) - target) <= abs(f(what, hi, t_fine) - target) else hi
