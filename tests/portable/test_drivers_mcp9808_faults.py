# MCP9808 driver: out-of-range raw values, every injected fault, identity mismatch.
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
