# MCP9808 driver against its register-level model, on both interpreters.
MICROPYTHON_MPY = "drivers, self"

from portable_support import approx

from drivers.mcp9808 import MCP9808
from drivers.sim import SimBus
from drivers.sim.mcp9808 import MCP9808Model


def setup(address=0x18, **kw):
    bus = SimBus()
    model = bus.attach(address, MCP9808Model())
    return bus, model, MCP9808(bus, address, **kw)


def test_round_trip_over_the_range_at_every_resolution():
    for step in (0.0625, 0.125, 0.25, 0.5):
        bus, model, sensor = setup(resolution=step)
        assert model.resolution == (0.5, 0.25, 0.125, 0.0625).index(step)
        for t in (-40.0, -20.3, -0.0625, 0.0, 0.0625, 21.7, 85.0, 100.26, 124.9375):
            model.temperature = t
            got = sensor.read()["temperature"]
            assert approx(got, t, step / 2 + 1e-9), (step, t, got)
            assert got * 16 % (step * 16) == 0  # quantised to the resolution


def test_one_read_is_one_two_byte_transaction():
    bus, model, sensor = setup(0x1C)
    bus.reset_counters()
    sensor.read()
    assert (bus.transactions, bus.bytes_written, bus.bytes_read) == (1, 1, 2)
    assert sensor.address == 0x1C and sensor.QUANTITIES == ("temperature",)


def test_alert_flags_are_not_taken_for_temperature():
    bus, model, sensor = setup()
    # POR limits are 0 C, so at 30 C the chip sets TA>=TCRIT and TA>TUPPER.
    model.temperature = 30.0
    assert bus.readfrom_mem(0x18, 5, 1)[0] & 0xE0 == 0xC0
    assert sensor.read()["temperature"] == 30.0


def test_driver_waits_for_the_first_conversion():
    bus = SimBus()
    model = bus.attach(0x18, MCP9808Model(temperature=25.0))
    assert bus.readfrom_mem(0x18, 5, 2) == b"\x00\x00"  # POR value before tCONV
    t0 = bus.now_ms()
    assert MCP9808(bus, resolution=0.5).read()["temperature"] == 25.0
    assert bus.now_ms() - t0 >= 30
