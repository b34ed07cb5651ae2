# MCP9808 driver against its register-level model, on both interpreters.
MICROPYTHON_MPY = "drivers, self"

from portable_support import approx, raises

from drivers import SensorError
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


def test_out_of_range_or_off_resolution_raw_values_raise():
    bus, model, sensor = setup()
    model.temperature = 150.0
    with raises(SensorError, "outside -40..125"):
        sensor.read()
    bus, model, sensor = setup(resolution=0.5)
    model.resolution = 3  # someone else reprogrammed the chip
    model.temperature = 20.0625
    with raises(SensorError, "bits below the 0.5 C resolution"):
        sensor.read()
    with raises(ValueError, "resolution"):
        MCP9808(bus, resolution=0.1)


def test_nack_and_timeout_raise_sensor_error():
    bus, model, sensor = setup()
    bus.inject(0x18, "nack")
    with raises(SensorError, "MCP9808@0x18: no ACK"):
        sensor.read()
    bus.inject(0x18, "timeout")
    with raises(SensorError, "MCP9808@0x18: bus timeout"):
        sensor.read()
    bus.inject(0x18, "nack", None)  # the chip stops answering
    for _ in range(3):
        with raises(SensorError, "no ACK"):
            sensor.read()
    bus.clear_faults()
    assert approx(sensor.read()["temperature"], 21.0, 0.07)
    with raises(SensorError, "MCP9808@0x19: no ACK"):
        MCP9808(bus, 0x19)


def test_corrupt_and_stuck_reads():
    bus, model, sensor = setup(resolution=0.25)
    model.temperature = 20.0
    bus.inject(0x18, "corrupt")  # flips low bits of the LSB: below resolution
    with raises(SensorError, "bits below"):
        sensor.read()
    bus = SimBus()
    bus.attach(0x18, MCP9808Model())
    bus.inject(0x18, "stuck", 2)  # device ID and resolution read back repeat old bytes
    with raises(SensorError, "not an MCP9808"):
        MCP9808(bus)


class DeafModel(MCP9808Model):
    """A chip that acknowledges writes but keeps its resolution."""

    def write(self, data):
        MCP9808Model.write(self, data[:1])


def test_resolution_that_does_not_stick_is_reported():
    bus = SimBus()
    bus.attach(0x18, DeafModel())
    with raises(SensorError, "resolution register reads 0x03 after writing 0x00"):
        MCP9808(bus, resolution=0.5)


def test_identity_mismatch_names_what_was_read():
    bus = SimBus()
    bus.attach(0x18, MCP9808Model(manufacturer=0x0055))
    with raises(SensorError, "MCP9808@0x18: not an MCP9808: manufacturer ID 0x0055, device ID 0x04"):
        MCP9808(bus)
    bus.attach(0x18, MCP9808Model(device_id=0x0500))
    with raises(SensorError, "device ID 0x05"):
        MCP9808(bus)
