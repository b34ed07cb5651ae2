"""MCP47x6 model: Microchip MCP4706/4716/4726 single-channel DAC, register level.

References are to datasheet DS22272C:
  memory: a DAC register and five configuration bits (VREF1 VREF0 PD1 PD0 G),
    volatile and nonvolatile (EEPROM), and two status bits RDY/BSY, POR (4.7);
    on a POR the nonvolatile values are latched into the volatile ones (4.6.1),
    and so on a General Call Reset (6.6.1): reset() here, as SimBus has no
    general call address;
  writes, command bits C2:C0 in the top of the first byte (section 6, table 6-1):
    00x Write Volatile DAC Register (6.1, figure 6-1): 2 bytes, 0 0 PD1 PD0
        b11..b8, b7..b0; MCP4726 D11..D0, MCP4716 D9..D0 in b11..b2, MCP4706
        D7..D0 in b7..b0;
    010 Write Volatile Memory (6.2, figure 6-2) and 011 Write All Memory (6.3,
        figure 6-3): 3 bytes, C2 C1 C0 VREF1 VREF0 PD1 PD0 G, then the data
        left-justified in 16 bits; Write All Memory also starts an EEPROM write
        (RDY/BSY low, TWRITE 25 ms typical, 50 ms maximum: electrical
        characteristics, page 6) during which another one must not be issued:
        the model NACKs it;
    100 Write Volatile Configuration bits: 1 byte C2 C1 C0 VREF1 VREF0 PD1 PD0 G
        (20 clocks in table 6-1 = address + 1 byte; the 100 code and the byte
        layout are from third-party drivers, section 6.4 was not found by search);
    101, 11x: not listed in table 6-2 as far as search shows: NACKed here;
    each group of bytes may be repeated in the same message (continuous mode);
    an incomplete group is aborted and writes nothing (6.0.1);
  reads (6.5): 12/10-bit parts, figure 6-5: status/config byte RDY/BSY POR 0
    VREF1 VREF0 PD1 PD0 G, 16-bit data left-justified with the unused LSBs 0,
    then the same for the nonvolatile memory (6 bytes); MCP4706, figure 6-6:
    status, data byte, NV status, NV data byte (4 bytes); continued clocking
    repeats the answer from its first byte. Bit 5 of the NV byte reads '1' in
    the figures as extracted (uncertain); RDY/BSY and POR are the same status
    bits in both. The datasheet both forbids reads during an EEPROM write (6.3)
    and says RDY/BSY "can be monitored by a Read command": the model answers,
    RDY/BSY low;
  output (4.2, 4.3): VOUT = code / 2^bits of the reference (VREF1 = 0: VDD;
    VREF1:VREF0 = 10 / 11: the VREF pin unbuffered / buffered), times 2 with G = 1,
    which applies to the VREF pin only (page 1: "2x, only when VREF pin is
    used"); PD1:PD0 other than 00 disconnect the output buffer and pull VOUT
    down through 1 k / 125 k / 640 k (page 1).
The factory EEPROM contents were not found by search: code 0, all
configuration bits 0 (VDD reference, normal mode, gain 1x) are assumed.
Bus faults (NACK, timeout, corrupt, stuck) are SimBus.inject()'s, as for
every model; the model's own NACKs are the busy EEPROM and unknown commands.
"""
from drivers.sim.base import Model
from drivers.sim.bus import Nack

TWRITE_MS = 50


class MCP47X6Model(Model):
    def __init__(self, bits=12, code=0, config=0):
        """code: nonvolatile DAC register in the part's own steps (0..2^bits-1);
        config: nonvolatile VREF1 VREF0 PD1 PD0 G (bits 4..0). Both latched into
        the volatile memory, as at power-on."""
        if bits not in (8, 10, 12):
            raise ValueError("MCP47x6 bits must be 8, 10 or 12")
        self.bits = bits
        self.nv_dac = code
        self.nv_config = config & 0x1F
        self._busy = None
        self.reset()

    def reset(self):
        """POR or General Call Reset: EEPROM -> volatile memory (4.6.1, 6.6.1)."""
        self.dac = self.nv_dac
        self.config = self.nv_config

    def busy(self):
        due = self._busy
        if due is not None and self.now() >= due:
            self._busy = due = None
        return due is not None

    # --- the wire -----------------------------------------------------------
    def write(self, data):
        i = 0
        n = len(data)
        while i < n:
            c = data[i] >> 5
            size = 2 if c < 2 else 3 if c < 4 else 1
            if c > 4:
                raise Nack(5, "reserved MCP47x6 command bits %d%d%d" % (c >> 2, (c >> 1) & 1, c & 1))
            if i + size > n:
                return  # a STOP where data bits were expected aborts the command (6.0.1)
            g = data[i:i + size]
            i += size
            if c < 2:
                # 6.1: PD1:PD0 and the DAC register only.
                w = ((g[0] & 0x0F) << 8) | g[1]
                self.dac = w & 0xFF if self.bits == 8 else w >> (12 - self.bits)
                self.config = (self.config & 0x19) | (g[0] & 0x30) >> 3
                continue
            if c == 4:
                self.config = g[0] & 0x1F
                continue
            if c == 3 and self.busy():
                raise Nack(19, "MCP47x6 EEPROM write in progress")
            self.dac = (((g[1] << 8) | g[2]) >> (16 - self.bits))
            self.config = g[0] & 0x1F
            if c == 3:
                self.nv_dac = self.dac
                self.nv_config = self.config
                self._busy = self.now() + TWRITE_MS

    def _status(self):
        return (0 if self.busy() else 0x80) | 0x40

    def read(self, n):
        s = self._status()
        if self.bits == 8:
            one = (s | self.config, self.dac, s | 0x20 | self.nv_config, self.nv_dac)
        else:
            shift = 16 - self.bits
            v = self.dac << shift
            e = self.nv_dac << shift
            one = (s | self.config, v >> 8, v & 0xFF, s | 0x20 | self.nv_config, e >> 8, e & 0xFF)
        out = bytearray(n)
        for k in range(n):
            out[k] = one[k % len(one)]
        return out

    # --- for a board simulator ----------------------------------------------
    def output(self):
        """VOUT as a fraction of the selected reference (VDD or the VREF pin):
        0.0..1.0 at gain 1x, up to 2.0 with G = 1 on the VREF pin (the real
        output then clips at VDD); 0.0 in any power-down mode."""
        cfg = self.config
        if cfg & 0x06:
            return 0.0
        gain = 2 if cfg & 0x01 and cfg & 0x10 else 1
        return gain * self.dac / (1 << self.bits)
