# Shared set-up of the TSL2591 portable tests (compiled to .mpy for the VM).
from drivers.sim import SimBus
from drivers.sim.tsl2591 import TSL2591Model


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
