"""MCP9808 model: 16-bit registers behind a 4-bit pointer (datasheet 5.1).

Continuous conversion from power-up (SimBus.attach): the ambient register TA reads
its POR value 0 until the first tCONV of the selected resolution has passed (5.4,
5.8.4); a resolution change or leaving shutdown starts a new first conversion, and TA
keeps its last value meanwhile. CONFIG (5.1.1): SHDN (bit 8) stops conversions, TA
holds; Crit. Lock / Win. Lock (bits 7/6) stay set until power-up, and while either is
set TCRIT / TUPPER and TLOWER take no writes, hysteresis and SHDN no change; Int.
Clear (bit 5) reads 0. Limits: two's complement, bits 12-2 (table 5-4). Alert flags
TA<15:13>: TA >= TCRIT, TA > TUPPER, TA < TLOWER. Identity 0x0054 / 0x0400.
Not modelled: the Alert output pin and its interrupt mode.
"""
from drivers.sim.base import Model

_TCONV = (30, 65, 130, 250)


def _signed(reg):
    reg &= 0x1FFF
    return reg - 0x2000 if reg & 0x1000 else reg


class MCP9808Model(Model):
    def __init__(self, temperature=21.0, manufacturer=0x0054, device_id=0x0400):
        self.temperature = temperature
        self.regs = {1: 0, 2: 0, 3: 0, 4: 0, 6: manufacturer, 7: device_id}
        self.resolution = 3  # POR default: 0.0625 C
        self.ptr = 0
        self.power_on()

    def power_on(self):
        # TA reads its POR value until the first conversion, started at power-up, ends.
        self._ta = 0
        self._due = self.now() + _TCONV[self.resolution]

    def _convert(self):
        # _due: end of the first conversion after power-up / a change; None in shutdown.
        if self._due is not None and self.now() >= self._due:
            step = 1 << (3 - self.resolution)
            code = (int(round(self.temperature * 16 / step)) * step) & 0x1FFF
            t = _signed(code)
            r = self.regs
            flags = 0
            if t >= _signed(r[4]):
                flags |= 0x8000
            if t > _signed(r[2]):
                flags |= 0x4000
            if t < _signed(r[3]):
                flags |= 0x2000
            self._ta = flags | code
        return self._ta

    def write(self, data):
        p = self.ptr = data[0] & 0x0F
        if len(data) < 2:
            return
        r = self.regs
        if p == 8:
            self._convert()
            self.resolution = data[1] & 0x03
            if self._due is not None:
                self._due = self.now() + _TCONV[self.resolution]
        elif 1 <= p <= 4 and len(data) >= 3:
            v = (data[1] << 8) | data[2]
            old = r[1]
            if p == 1:
                if old & 0xC0:
                    v = (v & 0xF8FF) | (old & 0x0700)   # locked: hysteresis and SHDN stay
                v = (v | (old & 0xC0)) & 0x07DF          # locks stick; Int. Clear reads 0
                self._convert()                          # TA as of now, held in shutdown
                if v & 0x0100:
                    self._due = None
                elif self._due is None:
                    self._due = self.now() + _TCONV[self.resolution]
                r[1] = v
            elif not old & (0x80 if p == 4 else 0x40):
                r[p] = v & 0x1FFC

    def read(self, n):
        p = self.ptr
        if p == 8:
            return bytes((self.resolution,))
        v = self._convert() if p == 5 else self.regs.get(p, 0)
        return bytes(((v >> 8) & 0xFF, v & 0xFF))
