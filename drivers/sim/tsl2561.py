"""TSL2561Model: TAOS/ams TSL2561 (T, FN, CL package) light-to-digital converter.

Physics in (`lux`, `ir` = CH1/CH0 count ratio of the light source), registers out.
References are to the TAOS TSL2560/TSL2561 datasheet (TAOS059):
  "Command Register": bit 7 CMD, 6 CLEAR (interrupt), 5 WORD, 4 BLOCK, 3:0 ADDRESS;
    with WORD or BLOCK set a read continues to the next register (I2C combined read,
    no byte count), otherwise it repeats the addressed register;
  "Register Set": 0x0 CONTROL (POWER 1:0, 0x03 = up, reads back 0x03), 0x1 TIMING
    (GAIN bit 4: 0 = 1x, 1 = 16x; MANUAL bit 3; INTEG 1:0: 13.7 / 101 / 402 ms / manual),
    0x2..0x5 thresholds, 0x6 INTERRUPT, 0xA ID (PARTNO 7:4 = 0101 TSL2561 T/FN/CL,
    REVNO 3:0), 0xC..0xF DATA0LOW/HIGH, DATA1LOW/HIGH;
  "Calculating Lux" (T, FN, CL package), channels normalised to 402 ms and 16x:
    CH1/CH0 <= 0.50: 0.0304 CH0 - 0.062 CH0 (CH1/CH0)^1.4
            <= 0.61: 0.0224 CH0 - 0.031 CH1
            <= 0.80: 0.0128 CH0 - 0.0153 CH1
            <= 1.30: 0.00146 CH0 - 0.00112 CH1,  above: 0
  integration scale against 402 ms: 11/322 (13.7 ms), 81/322 (101 ms);
  full scale: 5047 counts (13.7 ms), 37177 (101 ms), 65535 (402 ms).
"""
from drivers.sim.base import RegisterModel

SCALE = (11.0 / 322.0, 81.0 / 322.0, 1.0)
FULL = (5047, 37177, 65535)
TINT_MS = (13.7, 101.0, 402.0)
_WRITABLE = (0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6)


class TSL2561Model(RegisterModel):
    def __init__(self, lux=300.0, ir=0.3, part_id=0x50):
        RegisterModel.__init__(self, 16)
        self.lux = lux
        self.ir = ir
        self.part_id = part_id
        self._inc = False
        self.regs[0x1] = 0x02          # power-on TIMING: 402 ms, 1x
        self.regs[0xA] = part_id
        self._t0 = None
        self._cycles = 0

    def write(self, data):
        if not data:
            return
        cmd = data[0]
        if not cmd & 0x80:
            return
        if cmd & 0x40:
            self.regs[0x6] &= 0x3F     # CLEAR: interrupt cleared (INTR bits untouched here)
        self._inc = bool(cmd & 0x30)
        self.ptr = cmd & 0x0F
        for value in data[1:]:
            reg = self.ptr
            if reg in _WRITABLE:
                now = self.now()
                self._tick(now)
                if reg == 0x0:
                    value &= 0x03
                    if value != 0x03:
                        self._t0 = None
                    elif self._t0 is None:
                        self._t0 = now
                        self._cycles = 0
                elif reg == 0x1 and self._t0 is not None:
                    self._t0 = now             # a new timing starts a new integration
                    self._cycles = 0
                self.regs[reg] = value
            if self._inc:
                self.ptr = (reg + 1) & 0x0F

    def read(self, n):
        self._tick(self.now())
        out = bytearray(n)
        for i in range(n):
            out[i] = self.regs[self.ptr]
            if self._inc:
                self.ptr = (self.ptr + 1) & 0x0F
        return out

    def _tick(self, now):
        if self._t0 is None:
            return
        integ = self.regs[0x1] & 3
        if integ == 3:
            return  # manual integration: not modelled, data stay as they are
        done = int((now - self._t0) // TINT_MS[integ])
        if done > self._cycles:
            self._cycles = done
            c0, c1 = self.counts()
            r = self.regs
            r[0xC], r[0xD], r[0xE], r[0xF] = c0 & 0xFF, c0 >> 8, c1 & 0xFF, c1 >> 8

    def counts(self):
        timing = self.regs[0x1]
        integ = min(timing & 3, 2)
        r = self.ir
        # Lux per normalised CH0 count at this CH1/CH0 ratio ("Calculating Lux").
        per = (0.0304 - 0.062 * (r ** 1.4) if r <= 0.50 else 0.0224 - 0.031 * r if r <= 0.61
               else 0.0128 - 0.0153 * r if r <= 0.80 else 0.00146 - 0.00112 * r if r <= 1.30 else 0.0)
        norm = self.lux / per if per > 0 else 1e9
        c0 = norm * SCALE[integ] * (1.0 if timing & 0x10 else 1.0 / 16.0)
        full = FULL[integ]
        return min(int(c0 + 0.5), full), min(int(c0 * r + 0.5), full)
