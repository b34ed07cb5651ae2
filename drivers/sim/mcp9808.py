"""MCP9808 model: 16-bit registers behind a 4-bit pointer (datasheet 5.1), the
ambient register refreshed every tCONV of the selected resolution (5.4, 5.8.4),
alert flags TA<15:13> against TCRIT/TUPPER/TLOWER, identity 0x0054 / 0x0400."""
from drivers.sim.base import Model

_TCONV = (30, 65, 130, 250)


def _code(t):
    # Two's complement in 1/16 C, 13 bits (table 5-5).
    return int(round(t * 16)) & 0x1FFF


def _signed(reg):
    reg &= 0x1FFF
    return reg - 0x2000 if reg & 0x1000 else reg


class MCP9808Model(Model):
    def __init__(self, temperature=21.0, manufacturer=0x0054, device_id=0x0400):
        self.temperature = temperature
        self.regs = {1: 0, 2: 0, 3: 0, 4: 0, 6: manufacturer, 7: device_id}
        self.resolution = 3  # POR default: 0.0625 C
        self.ptr = 0
        self._ta = 0  # POR value, until the first conversion ends
        self._due = None

    def _convert(self):
        now = self.now()
        if self._due is None:
            self._due = now + _TCONV[self.resolution]
        if now >= self._due:
            step = 1 << (3 - self.resolution)
            code = (int(round(self.temperature * 16 / step)) * step) & 0x1FFF
            t = _signed(code)
            flags = 0
            if t >= _signed(self.regs[4]):
                flags |= 0x8000
            if t > _signed(self.regs[2]):
                flags |= 0x4000
            if t < _signed(self.regs[3]):
                flags |= 0x2000
            self._ta = flags | code
        return self._ta

    def write(self, data):
        self.ptr = data[0] & 0x0F
        if len(data) < 2:
            return
        if self.ptr == 8:
            self._convert()
            self.resolution = data[1] & 0x03
            self._due = self.now() + _TCONV[self.resolution]
        elif self.ptr in (1, 2, 3, 4) and len(data) >= 3:
            v = (data[1] << 8) | data[2]
            # Limit registers keep bits 12-2 only (table 5-4).
            self.regs[self.ptr] = v if self.ptr == 1 else v & 0x1FFC

    def read(self, n):
        p = self.ptr
        if p == 8:
            return bytes((self.resolution,))
        v = self._convert() if p == 5 else self.regs.get(p, 0)
        return bytes(((v >> 8) & 0xFF, v & 0xFF))
