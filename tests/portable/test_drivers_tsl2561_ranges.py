# TSL2561 driver x TSL2561Model: the three addresses, bus traffic, saturation and bad settings.
from portable_support import raises

MICROPYTHON_MPY = "drivers, self, tsl2561_helpers"

from drivers import SensorError
from drivers.tsl2561 import TSL2561
from tsl2561_helpers import setup, check


def test_all_three_addresses_and_13_7():
    for a in (0x29, 0x39, 0x49):
        bus, model = setup(a, lux=123.0)
        sensor = TSL2561(bus, a, integration_ms=13.7)
        assert sensor.address == a and sensor.integration_ms == 13
        check(bus, sensor, model, 123.0, 0.02)


def test_one_read_is_one_transaction():
    bus, model = setup()
    sensor = TSL2561(bus)
    bus.reset_counters()
    sensor.read()
    assert (bus.transactions, bus.bytes_written, bus.bytes_read) == (1, 1, 4)


def test_saturation_is_an_error_not_a_number():
    bus, model = setup(lux=20000.0)
    sensor = TSL2561(bus, gain=16, integration_ms=101)
    with raises(SensorError, "TSL2561@0x39: saturated: lower the gain or integration time (CH0 37177"):
        sensor.read()
    with raises(ValueError, "gain 1 or 16"):
        TSL2561(bus, gain=25)
    with raises(ValueError, "not 1, 100"):
        TSL2561(bus, integration_ms=100)
