# TSL2591 driver x TSL2591Model: light sources, bus traffic, saturation and bad settings.
from portable_support import raises

MICROPYTHON_MPY = "drivers, self, tsl2591_helpers"


from drivers import SensorError
from drivers.tsl2591 import TSL2591
from tsl2591_helpers import setup, check


def test_light_sources_with_more_or_less_infrared():
    for ir in (0.0, 0.1, 0.35, 0.6):
        bus, model = setup(ir=ir)
        sensor = TSL2591(bus)
        for lux in (20.0, 200.0):
            check(bus, sensor, model, lux, 0.003)


def test_one_read_is_one_transaction():
    bus, model = setup()
    sensor = TSL2591(bus)
    sensor.read()
    bus.reset_counters()
    sensor.read()
    assert (bus.transactions, bus.bytes_written, bus.bytes_read) == (1, 1, 5)


def test_saturation_is_an_error_not_a_number():
    bus, model = setup(lux=50000.0)
    sensor = TSL2591(bus, gain=428)
    with raises(SensorError, "TSL2591@0x29: saturated (CH0 37888"):
        sensor.read()
    with raises(ValueError, "gain"):
        TSL2591(bus, gain=16)
    with raises(ValueError, "integration_ms"):
        TSL2591(bus, integration_ms=101)
