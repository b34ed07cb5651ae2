# Shared set-up of the TSL2561 portable tests (compiled to .mpy for the VM).
from drivers.sim import SimBus
from drivers.sim.tsl2561 import TSL2561Model


def setup(address=0x39, **kw):
    bus = SimBus()
    model = bus.attach(address, TSL2561Model(**kw))
    return bus, model


def check(bus, sensor, model, lux, rel):
    model.lux = lux
    bus.sleep_ms(410)
    got = sensor.read()["lux"]
    # Integer counts: allow ~2 counts of CH0 (normalised) on top of rel.
    per_count = 0.0304 * 16.0 / sensor.gain * (402.0 / sensor.integration_ms)
    assert abs(got - lux) <= rel * lux + 2.0 * per_count, (sensor.gain, sensor.integration_ms, lux, got)
