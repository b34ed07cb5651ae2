# TSL2591 driver x TSL2591Model: light sources, bus traffic, saturation and bad settings.
from portable_support import raises

MICROPYTHON_MPY = "drivers, self"



from drivers import SensorError
from drivers.sim import SimBus
from drivers.sim.tsl2591 import TSL2591Model
from drivers.tsl2591 import TSL2591

def setup(**kw):
    bus = SimBus()
    model = bus.attach(0x29, TSL2591Model(**kw))
    return bus, model


def check(bus, sensor, model, lux, rel):
    model.lux = lux
    bus.sleep_ms(sensor.integration_ms + 1)      # let one new integration end
    got = sensor.read()["lux"]
    # Counts are integers: at least 1 count of CH0 of error, and rel relative.
    assert abs(got - lux) <= rel * lux + 3.0 * 408.0 / (sensor.integration_ms * sensor.gain), \
        (sensor.gain, sensor.integration_ms, lux, got)


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
