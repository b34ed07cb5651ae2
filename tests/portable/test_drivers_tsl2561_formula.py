# TSL2561 driver x TSL2561Model: each region of the datasheet's lux formula.
MICROPYTHON_MPY = "drivers, self"

from drivers.sim import SimBus
from drivers.sim.tsl2561 import TSL2561Model
from drivers.tsl2561 import TSL2561


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


def test_every_region_of_the_lux_formula():
    # CH1/CH0 ratios in each of the datasheet's five regions (the last one reads 0 lx).
    bus, model = setup()
    sensor = TSL2561(bus)
    for ir, lux in ((0.1, 500.0), (0.45, 500.0), (0.55, 200.0), (0.7, 100.0), (1.0, 10.0)):
        model.ir = ir
        check(bus, sensor, model, lux, 0.01)
    model.counts = lambda: (100, 150)          # deep-infrared source: CH1/CH0 = 1.5
    bus.sleep_ms(410)
    assert sensor.read()["lux"] == 0.0
