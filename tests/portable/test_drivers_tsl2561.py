# TSL2561 driver x TSL2561Model through SimBus, on CPython and MicroPython.

MICROPYTHON_MPY = "drivers, self, tsl2561_helpers"

from drivers.tsl2561 import TSL2561
from tsl2561_helpers import setup, check

# (gain, integration ms, lux values inside that setting's range)
SETTINGS = ((1, 13, (300.0, 5000.0, 40000.0)), (1, 101, (50.0, 2000.0, 30000.0)),
            (1, 402, (10.0, 800.0, 15000.0)), (16, 13, (20.0, 300.0, 2500.0)),
            (16, 101, (3.0, 100.0, 1800.0)), (16, 402, (0.8, 40.0, 900.0)))


def test_round_trip_for_every_gain_and_integration_time():
    bus, model = setup()
    for gain, ms, values in SETTINGS:
        sensor = TSL2561(bus, gain=gain, integration_ms=ms)
        assert model.regs[0x1] == (0x10 if gain == 16 else 0) | (13, 101, 402).index(ms)
        for lux in values:
            check(bus, sensor, model, lux, 0.003)
