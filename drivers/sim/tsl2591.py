"""TSL2591Model: ams TSL2591 light-to-digital converter, register level.

Physics in (`lux`, `ir` = CH1/CH0 count ratio of the light source), registers out.
References are to the ams TSL2591 datasheet (ams163.5, Apr. 2013), "Register Description":
  COMMAND: bit 7 CMD, bits 6:5 TRANSACTION (01 normal, 11 special function), bits 4:0
    register address or special function (0x04 set interrupt, 0x06/0x07/0x0A clears);
  0x00 ENABLE (NPIEN 7, SAI 6, AIEN 4, AEN 1, PON 0), 0x01 CONTROL (SRESET 7, AGAIN 5:4,
  ATIME 2:0 = 100..600 ms), 0x04..0x0B thresholds, 0x0C PERSIST, 0x11 PID, 0x12 ID = 0x50,
  0x13 STATUS (NPINTR 5, AINT 4, AVALID 0), 0x14..0x17 C0DATAL/H, C1DATAL/H;
  reads auto-increment from the addressed register;
  AVALID is set once an integration cycle has completed after AEN; powering off clears it;
  ADC full scale: 37888 counts at 100 ms, 65535 at 200..600 ms.
Counts from lux use the same counts-per-lux relation as the Adafruit driver (DF 408,
coefficients 1.64 / 0.59 / 0.86, gains 1/25/428/9876: inside the datasheet's typical
gain ranges), so a driver doing that lux formula gets back the lux set.
"""
from drivers.sim.base import RegisterModel

GAINS = (1.0, 25.0, 428.0, 9876.0)
_WRITABLE = (0x00, 0x01, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C)


def counts_per_lux(atime_code, gain_code):
    return (100.0 * (atime_code + 1)) * GAINS[gain_code] / 408.0


class TSL2591Model(RegisterModel):
    def __init__(self, lux=300.0, ir=0.25, chip_id=0x50):
        RegisterModel.__init__(self, 0x20)
        self.lux = lux
        self.ir = ir
        self.chip_id = chip_id
        self._reset()

    def _reset(self):
        for i in range(0x20):
            self.regs[i] = 0
        self.regs[0x12] = self.chip_id
        self._t0 = None        # start of the current run of integration cycles
        self._cycles = 0       # cycles already turned into data

    def atime_ms(self):
        return 100 * ((self.regs[0x01] & 7) + 1)

    def write(self, data):
        if not data:
            return
        cmd = data[0]
        if not cmd & 0x80:
            return  # without CMD the byte addresses nothing
        if (cmd >> 5) & 3 == 3:
            sf = cmd & 0x1F
            if sf == 0x04:
                self.regs[0x13] |= 0x30
            elif sf in (0x06, 0x07, 0x0A):
                self.regs[0x13] &= ~(0x10 if sf == 0x06 else 0x20 if sf == 0x0A else 0x30) & 0xFF
            return
        self.ptr = cmd & 0x1F
        for b in data[1:]:
            self._store(self.ptr, b)
            self.ptr = (self.ptr + 1) & 0x1F

    def _store(self, reg, value):
        if reg not in _WRITABLE:
            return
        now = self.now()
        self._tick(now)
        if reg == 0x01 and value & 0x80:
            self._reset()  # SRESET
            return
        self.regs[reg] = value
        if reg == 0x00:
            if value & 3 == 3:
                if self._t0 is None:
                    self._t0 = now
                    self._cycles = 0
            else:
                self._t0 = None
                self.regs[0x13] &= 0xFE  # AVALID only survives while AEN and PON stay on
        elif reg == 0x01 and self._t0 is not None:
            # New gain/time apply from a fresh cycle; old data (and AVALID) stay until then.
            self._t0 = now
            self._cycles = 0

    def on_read(self, reg):
        self._tick(self.now())

    def _tick(self, now):
        if self._t0 is None:
            return
        done = int((now - self._t0) // self.atime_ms())
        if done > self._cycles:
            self._cycles = done
            c0, c1 = self.counts()
            r = self.regs
            r[0x14], r[0x15], r[0x16], r[0x17] = c0 & 0xFF, c0 >> 8, c1 & 0xFF, c1 >> 8
            r[0x13] |= 0x01

    def counts(self):
        """(CH0, CH1) for the current settings: lux = max(C0 - 1.64 C1, 0.59 C0 - 0.86 C1) / CPL."""
        ctrl = self.regs[0x01]
        atime = ctrl & 7
        if atime > 5:
            atime = 5
        cpl = counts_per_lux(atime, (ctrl >> 4) & 3)
        ir = self.ir
        per_c0 = max(1.0 - 1.64 * ir, 0.59 - 0.86 * ir)
        c0 = self.lux * cpl / per_c0 if per_c0 > 0 else 65535.0
        full = 37888 if atime == 0 else 65535
        return min(int(c0 + 0.5), full), min(int(c0 * ir + 0.5), full)
