# TSL2591 driver x TSL2591Model through SimBus, on CPython and MicroPython.

MICROPYTHON_MPY = "drivers, self, tsl2591_helpers"


from drivers.tsl2591 import TSL2591
from tsl2591_helpers import setup, check

# (gain, integration ms, lux values that neither saturate nor starve that setting)
SETTINGS = ((1, 100, (200.0, 5000.0, 88000.0)), (1, 600, (50.0, 1000.0, 14000.0)),
            (25, 100, (10.0, 400.0, 3400.0)), (25, 300, (5.0, 200.0, 1200.0)),
            (428, 200, (0.5, 20.0, 95.0)), (428, 500, (0.2, 5.0, 38.0)),
            (9876, 100, (0.02, 1.0, 7.0)), (9876, 600, (0.003, 0.2, 1.4)))


def test_round_trip_for_every_gain_and_integration_time():
    bus, model = setup()
    for gain, ms, values in SETTINGS:
        sensor = TSL2591(bus, gain=gain, integration_ms=ms)
        assert model.regs[0x01] == ((1, 25, 428, 9876).index(gain) << 4) | (ms // 100 - 1)
        for lux in values:
            check(bus, sensor, model, lux, 0.002)


def test_first_read_waits_for_a_valid_integration():
    bus, model = setup(lux=321.0)
    sensor = TSL2591(bus, integration_ms=600)
    t0 = bus.now_ms()
    r = sensor.read()                        # AVALID is 0 right after enable
    assert abs(r["lux"] - 321.0) < 1.0, r
    assert bus.now_ms() - t0 >= 600
