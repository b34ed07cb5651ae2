"""Adafruit's CircuitPython MCP9808 driver (adafruit-circuitpython-mcp9808) against
MCP9808Model through SimBus: readings at every resolution over the datasheet's
-40..+125 C range, the alert flags against limits, and our driver on the same chip.
CPython only (Blinka)."""
import pytest

from crosscheck_support import public_driver  # first: Blinka's board pinning

adafruit_mcp9808 = public_driver("adafruit_mcp9808")

from drivers.mcp9808 import MCP9808  # noqa: E402
from drivers.sim import SimBus  # noqa: E402
from drivers.sim.mcp9808 import MCP9808Model  # noqa: E402

# Datasheet table 1-1, sensor accuracy: +-0.5 C max from -20 to +100 C, +-1 C max over
# -40..+125 C.
RANGE = (-40.0, -20.0, -0.0625, 0.0, 0.25, 21.8125, 37.5, 100.0, 124.9375, 125.0)


def accuracy(t):
    return 0.5 if -20 <= t <= 100 else 1.0


@pytest.mark.parametrize("code,step", [(0, 0.5), (1, 0.25), (2, 0.125), (3, 0.0625)])
def test_adafruit_mcp9808_reads_what_the_model_was_set_to(code, step):
    bus = SimBus()
    model = bus.attach(0x18, MCP9808Model(temperature=25.0))
    theirs = adafruit_mcp9808.MCP9808(bus)          # identity check: 0x0054 / 0x04
    theirs.resolution = code
    assert model.resolution == code and theirs.resolution == code
    bus.sleep_ms(250)                               # the conversion the new resolution started
    ours = MCP9808(bus, resolution=step)            # writes the same resolution: a new conversion
    for t in RANGE:
        model.temperature = t
        got = theirs.temperature
        assert abs(got - t) <= accuracy(t), (t, got)
        assert abs(got - t) <= step / 2 and got % step == 0, (step, t, got)   # quantised
        assert ours.read()["temperature"] == got


def test_adafruit_mcp9808_right_after_power_up():
    # The chip converts from power-up: a driver that reads right after its identity
    # check gets the POR value (0 C) only within the first tCONV (250 ms).
    bus = SimBus(realtime=False)
    bus.attach(0x18, MCP9808Model(temperature=-12.5))
    theirs = adafruit_mcp9808.MCP9808(bus)
    assert theirs.temperature == 0.0
    bus.sleep_ms(250)
    assert theirs.temperature == -12.5


def test_adafruit_mcp9808_alert_flags_follow_the_limits():
    bus = SimBus()
    model = bus.attach(0x18, MCP9808Model(temperature=25.0))
    theirs = adafruit_mcp9808.MCP9808(bus)
    theirs.upper_temperature = 30
    theirs.lower_temperature = 10
    theirs.critical_temperature = 40
    assert (theirs.upper_temperature, theirs.lower_temperature, theirs.critical_temperature) == (30, 10, 40)
    bus.sleep_ms(250)
    for t, flags in ((25.0, (False, False, False)), (30.0, (False, False, False)),
                     (30.0625, (False, True, False)), (40.0, (True, True, False)),
                     (9.9375, (False, False, True)), (10.0, (False, False, False))):
        model.temperature = t
        # 5.1.3: TA >= TCRIT, TA > TUPPER, TA < TLOWER.
        assert (theirs.above_critical, theirs.above_upper, theirs.below_lower) == flags, t
        assert MCP9808(bus).read()["temperature"] == t      # our driver masks the flags


def test_adafruit_mcp9808_negative_limit_disagrees_with_the_datasheet():
    # Adafruit writes a negative limit as sign + magnitude (-10 -> 0x10A0); the
    # datasheet's limit registers are two's complement (table 5-4: -10 C is 0x1F60).
    # The model follows the datasheet, so Adafruit's -10 C limit reads back, and acts,
    # as 0x10A0 = -246 C.
    bus = SimBus()
    model = bus.attach(0x18, MCP9808Model(temperature=-5.0))
    theirs = adafruit_mcp9808.MCP9808(bus)
    theirs.lower_temperature = -10
    assert model.regs[3] == 0x10A0
    assert theirs.lower_temperature == -246.0
    bus.sleep_ms(250)
    assert not theirs.below_lower                    # -5 C is not below -246 C
    bus.writeto(0x18, b"\x03\x1f\x60")               # -10 C as the datasheet writes it
    assert theirs.lower_temperature == -10.0
    model.temperature = -10.0625
    assert theirs.below_lower


def test_adafruit_mcp9808_refuses_another_chip():
    bus = SimBus()
    bus.attach(0x18, MCP9808Model(device_id=0x0500))
    with pytest.raises(ValueError):
        adafruit_mcp9808.MCP9808(bus)
