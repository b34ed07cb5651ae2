# BME280 driver x BME280Model through SimBus, on CPython and MicroPython.
from portable_support import raises, approx

MICROPYTHON_MPY = "drivers, self"
# SimBus (~9 KB) + BME280Model (~6.5 KB) + driver (~4.5 KB) + this module as bytecode,
# plus the model's bisections at run time, pass at 40 KB on the 64-bit unix port (44 set
# for margin): over the 36 KB target. A board runs the driver alone: bench/i2c_traffic.py
# prints its RAM.
MICROPYTHON_HEAP = "44k"

from drivers import SensorError
from drivers.sim import SimBus
from drivers.sim.bme280 import BME280Model
from drivers.bme280 import BME280

# Temperature, humidity, pressure over the chip's whole operating range.
TABLE = ((-40.0, 0.0, 300.0), (-40.0, 100.0, 1100.0), (-12.3, 35.5, 540.0), (0.0, 10.0, 700.0),
         (21.5, 45.0, 1013.25), (37.8, 72.25, 980.4), (60.0, 90.0, 850.0), (85.0, 100.0, 1100.0),
         (85.0, 3.0, 300.0))


def setup(address=0x76, **kw):
    bus = SimBus()
    model = bus.attach(address, BME280Model(**kw))
    return bus, model


def check(sensor, model, t, h, p, tol_p=0.05):
    model.temperature, model.humidity, model.pressure = t, h, p
    r = sensor.read()
    assert approx(r["temperature"], t, 0.011), (t, r)
    assert approx(r["humidity"], h, 0.05), (h, r)
    assert approx(r["pressure"], p, tol_p), (p, r)


def test_round_trip_over_the_physical_range():
    bus, model = setup()
    sensor = BME280(bus)
    assert sensor.CHIP == "BME280" and sensor.address == 0x76
    for t, h, p in TABLE:
        check(sensor, model, t, h, p)


def test_one_read_is_two_transactions():
    bus, model = setup()
    sensor = BME280(bus)
    sensor.read()
    bus.reset_counters()
    sensor.read()
    assert (bus.transactions, bus.bytes_written, bus.bytes_read) == (2, 3, 12), \
        (bus.transactions, bus.bytes_written, bus.bytes_read)
