"""MAX44009Model: Maxim MAX44009 ambient light sensor, register level.

Physics in (`lux`), registers out. References are to the Maxim MAX44009 datasheet:
  Table 1 register map / power-on values: 0x00 interrupt status (0x00), 0x01 interrupt
    enable (0x00), 0x02 configuration CONT 7, MANUAL 6, CDR 3, TIM 2:0 (0x03), 0x03 lux
    high byte E3..E0 M7..M4, 0x04 lux low byte M3..M0 in bits 3:0, 0x05 upper threshold
    (0xFF), 0x06 lower threshold (0x00), 0x07 threshold timer (0xFF);
  lux = 2^E * M * 0.045 (M = 8-bit mantissa of both registers), E = 1111 is overrange;
  Table 7/9: TIM = 800/400/200/100/50/25/12.5/6.25 ms; in manual mode the lowest exponent
    is TIM (+3 with CDR, photodiode current divided by 8) and the range ends 8 exponents
    higher (beyond: overrange); automatic mode picks the range itself (0.045..188,000 lx);
  default mode (CONT = 0) measures once every 800 ms, continuous mode back to back;
  measuring starts at power-up (SimBus.attach): the lux registers read their POR 0 until
  the first cycle ends; a configuration write starts a new cycle;
  lux registers do not update between an address byte and the next STOP;
  interrupt (INTE, register 0x01 bit 0): INTS (0x00 bit 0) is set when readings stay
  outside the window for the threshold timer's count of 100 ms, and clears when read;
  the window is 2^E x (M3..M0 1111) x 0.045 lx above (0x05), 2^E x (M3..M0 0000) below.
No auto-increment: a multi-byte read repeats the addressed register (field reports of
two-byte reads returning the same byte twice; the datasheet reads 0x03 and 0x04 with
a repeated START and a new register address between them).
"""
from drivers.sim.base import RegisterModel

TIM_MS = (800.0, 400.0, 200.0, 100.0, 50.0, 25.0, 12.5, 6.25)
_WRITABLE = (0x01, 0x02, 0x05, 0x06, 0x07)


def encode(lux, emin=0, emax=14):
    """(high byte, low byte) of a lux value, exponent at least emin, overrange past emax."""
    counts = int(lux / 0.045 / (1 << emin) + 0.5)
    e = emin
    while counts > 255:
        # Keep the rounding of the dropped bit, like an ADC range switch would.
        counts = (counts + 1) >> 1
        e += 1
    if e > emax:
        return 0xFF, 0x0F
    return (e << 4) | (counts >> 4), counts & 0x0F


class MAX44009Model(RegisterModel):
    def __init__(self, lux=300.0):
        RegisterModel.__init__(self, 8)
        self.lux = lux
        r = self.regs
        r[0x02] = 0x03
        r[0x05] = 0xFF
        r[0x07] = 0xFF
        self._out = None   # end of the first of the readings outside the threshold window
        self.power_on()

    def power_on(self):
        self._t0 = self.now()
        self._cycles = 0

    def write(self, data):
        if not data:
            return
        self.ptr = data[0]
        for b in data[1:]:
            if self.ptr < 8 and self.ptr in _WRITABLE:
                self._tick(self.now())
                self.regs[self.ptr] = b
                if self.ptr == 0x02:
                    self._t0 = self.now()   # new configuration: a new measurement cycle
                    self._cycles = 0
            self.ptr += 1

    def read(self, n):
        # The update freeze from address byte to STOP is not modelled (SimBus has no STOP
        # hook); results only change at cycle ends, so it rarely matters.
        self._tick(self.now())
        v = self.regs[self.ptr] if self.ptr < 8 else 0xFF
        if self.ptr == 0x00:
            self.regs[0] = 0  # interrupt status clears on read
        return bytes((v,)) * n

    def period_ms(self):
        cfg = self.regs[0x02]
        if cfg & 0x80 and cfg & 0x40:
            return TIM_MS[cfg & 7]
        if cfg & 0x80:
            return 100.0
        return 800.0

    def _tick(self, now):
        period = self.period_ms()
        done = int((now - self._t0) // period)
        if done > self._cycles:
            self._cycles = done
            r = self.regs
            cfg = r[0x02]
            if cfg & 0x40:
                emin = (cfg & 7) + (3 if cfg & 0x08 else 0)
                hi, lo = encode(self.lux, emin, min(emin + 8, 14))
            else:
                hi, lo = encode(self.lux)
            r[0x03] = hi
            r[0x04] = lo
            # Interrupt: the reading against the window, as mantissa << exponent counts.
            m = ((hi & 0x0F) << 4 | lo) << (hi >> 4)
            up, low = r[0x05], r[0x06]
            if hi >= 0xF0 or m > ((up & 0x0F) << 4 | 0x0F) << (up >> 4) or m < ((low & 0x0F) << 4) << (low >> 4):
                end = self._t0 + done * period
                if self._out is None:
                    self._out = end
                if r[0x01] & 1 and end - self._out >= r[0x07] * 100:
                    r[0x00] = 1
            else:
                self._out = None
