"""The SCD4x commands a measuring driver seldom sends (SCD4x datasheet command table),
for drivers/sim/scd4x.py, which loads this module at the first of them.

command(model, cmd, data) -> (execution ms, word to read back or None), or Nack;
ms None: the chip is powered down.
  settings, a word + CRC each way: set/get temperature offset 0x241D / 0x2318 (default
    4 C: the model reports temperature + 4 C - offset, and RH at that temperature),
    sensor altitude 0x2427 / 0x2322, automatic self-calibration enabled 0x2416 /
    0x2313, target 0x243A / 0x233F, and SCD41 only initial / standard period 0x2445 /
    0x2340, 0x244E / 0x234B; ambient pressure 0xE000 (with an argument: set; bare: get;
    1013 hPa at power-up). Altitude, pressure and ASC are kept and read back but do
    not change the readings (`co2` is what a well-compensated sensor reports);
  perform_forced_recalibration 0x362F (400 ms): correction word target - reading +
    0x8000, applied to the later readings; 0xFFFF when the sensor has not measured for
    3 minutes since power-up (the datasheet's condition);
  persist_settings 0x3615 (800 ms); reinit 0x3646 (30 ms): back to the persisted
    settings; perform_factory_reset 0x3632 (1200 ms): defaults, FRC correction gone;
  perform_self_test 0x3639 (10 s): word 0, no malfunction;
  get_sensor_variant 0x202F: bits 15:12, 0 SCD40, 1 SCD41;  power_down 0x36E0 (SCD41).
An argument whose CRC does not match is not applied.
"""
from drivers.crc import crc8
from drivers.sim.bus import Nack

# Settings: LSBs of their set (0x24xx) and get (0x23xx) commands, and their defaults.
_SET = b"\x1d\x27\x16\x3a\x45\x4e"
_GET = b"\x18\x22\x13\x3f\x40\x4b"
DEFAULTS = (1498, 0, 1, 400, 44, 156)   # 4 C in offset ticks, 0 m, on, 400 ppm, 44 h, 156 h


class State:
    """Settings, persisted copy, ambient pressure, FRC correction of one model."""

    def __init__(self):
        self.saved = DEFAULTS
        self.pressure = 1013
        self.frc = 0
        self.load(DEFAULTS)

    def load(self, saved):
        self.settings = list(saved)
        # Reported minus true temperature, from the temperature offset setting.
        self.shift = (DEFAULTS[0] - saved[0]) * 175 / 65535

    def reported(self, t, rh):
        """(temperature, RH) the chip reports at true t, rh: the same water vapour at
        the reported temperature (Magnus formula)."""
        t2 = t + self.shift
        if self.shift:
            from math import exp
            rh *= exp(17.62 * t / (243.12 + t) - 17.62 * t2 / (243.12 + t2))
        return t2, rh


def command(model, cmd, data):
    st = model.more
    if st is None:
        st = model.more = State()
    arg = None
    if len(data) >= 5 and crc8(data, 2, 4, 0xFF) == data[4]:
        arg = (data[2] << 8) | data[3]
    hi, lo = data[0], data[1]
    scd41 = model.variant != 0
    if hi == 0x24 or hi == 0x23:
        table = _SET if hi == 0x24 else _GET
        i = 0
        while i < 6 and table[i] != lo:
            i += 1
        if i < 4 or (i < 6 and scd41):
            if hi == 0x23:
                return 1, st.settings[i]
            if arg is not None:
                st.settings[i] = arg
                st.load(st.settings)
            return 1, None
    elif cmd == 0xE000:
        if len(data) < 5:
            return 1, st.pressure
        if arg is not None:
            st.pressure = arg
        return 1, None
    elif cmd == 0x362F:
        if arg is None or model.measured < 180000:
            return 400, 0xFFFF
        st.frc = arg - int(round(model.co2))
        return 400, (st.frc + 0x8000) & 0xFFFF
    elif cmd == 0x3615:
        st.saved = tuple(st.settings)
        return 800, None
    elif cmd == 0x3646 or cmd == 0x3632:
        if cmd == 0x3632:
            st.saved = DEFAULTS
            st.frc = 0
        st.load(st.saved)
        model.measured = 0
        return (30 if cmd == 0x3646 else 1200), None
    elif cmd == 0x3639:
        return 10000, 0
    elif cmd == 0x202F:
        return 1, model.variant << 12
    elif cmd == 0x36E0 and scd41:
        return None, None   # powered down
    raise Nack(5, "unknown SCD4x command 0x%04x" % cmd)
