# TSL2591 driver x TSL2591Model through SimBus, on CPython and MicroPython.
from portable_support import raises

MICROPYTHON_MPY = "drivers, self"



from drivers import SensorError
from drivers.sim import SimBus
from drivers.sim.tsl2591 import TSL2591Model
from drivers.tsl2591 import TSL2591

# (gain, integration ms, lux values that neither saturate nor starve that setting)
SETTINGS = ((1, 100, (200.0, 5000.0, 88000.0)), (1, 600, (50.0, 1000.0, 14000.0)),
            (25, 100, (10.0, 400.0, 3400.0)), (25, 300, (5.0, 200.0, 1200.0)),
            (428, 200, (0.5, 20.0, 95.0)), (428, 500, (0.2, 5.0, 38.0)),
            (9876, 100, (0.02, 1.0, 7.0)), (9876, 600, (0.003, 0.2, 1.4)))


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
