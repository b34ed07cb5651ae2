# TSL2561 driver x TSL2561Model: identity, bus faults, stuck/corrupt bytes.
from portable_support import raises

MICROPYTHON_MPY = "drivers, self, tsl2561_helpers"

from drivers import SensorError
from drivers.sim import SimBus
from drivers.tsl2561 import TSL2561
from tsl2561_helpers import setup


def test_identity_mismatch():
    bus, model = setup(part_id=0x11)
    with raises(SensorError, "TSL2561@0x39: ID register 0x0A reads 0x11"):
        TSL2561(bus)
    bus, model = setup(part_id=0x92)
    with raises(SensorError, "TSL2561@0x39: ID register 0x0A reads 0x92"):
        TSL2561(bus)
    with raises(SensorError, "TSL2561@0x49: no ACK"):
        TSL2561(SimBus(), 0x49)


def test_power_up_readback_is_checked():
    bus, model = setup()
    model.write = lambda data: setattr(model, "ptr", data[0] & 0x0F)  # ignores data bytes
    with raises(SensorError, "CONTROL reads 0x00 after power-up"):
        TSL2561(bus)


def test_bus_faults_raise_sensor_error():
    bus, model = setup(lux=100.0)
    sensor = TSL2561(bus)
    bus.inject(0x39, "nack")
    with raises(SensorError, "TSL2561@0x39: no ACK"):
        sensor.read()
    bus.inject(0x39, "timeout")
    with raises(SensorError, "bus timeout"):
        sensor.read()
    bus.inject(0x39, "nack", None)
    with raises(SensorError, "no ACK"):
        sensor.read()
    bus.clear_faults()
    assert abs(sensor.read()["lux"] - 100.0) < 1.0
