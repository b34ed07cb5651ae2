# TSL2561 driver x TSL2561Model: each region of the datasheet's lux formula.
MICROPYTHON_MPY = "drivers, self, tsl2561_helpers"

from drivers.tsl2561 import TSL2561
from tsl2561_helpers import setup, check


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
