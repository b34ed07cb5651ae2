# BME280 driver x BME280Model through SimBus, on CPython and MicroPython.
from portable_support import approx

MICROPYTHON_MPY = "drivers, self"
# Runs in the default 36 KB heap: the tables are small ints, not floats (a float is a
# heap object on the 64-bit unix port: 27 of them in tuples cost ~1.2 KB).

from drivers.sim import SimBus
from drivers.sim.bme280 import BME280Model
from drivers.bme280 import BME280

# Temperature, humidity, pressure over the chip's whole operating range, in hundredths
# (degC, %RH, hPa).
TABLE = (-4000, 0, 30000, -4000, 10000, 110000, -1230, 3550, 54000, 0, 1000, 70000,
         2150, 4500, 101325, 3780, 7225, 98040, 6000, 9000, 85000, 8500, 10000, 110000,
         8500, 300, 30000)


def test_round_trip_over_the_physical_range():
    bus = SimBus()
    model = bus.attach(0x76, BME280Model())
    sensor = BME280(bus)
    assert sensor.CHIP == "BME280" and sensor.address == 0x76
    for i in range(0, len(TABLE), 3):
        t, h, p = TABLE[i] / 100, TABLE[i + 1] / 100, TABLE[i + 2] / 100
        model.temperature, model.humidity, model.pressure = t, h, p
        r = sensor.read()
        assert approx(r["temperature"], t, 0.011), (t, r)
        assert approx(r["humidity"], h, 0.05), (h, r)
        assert approx(r["pressure"], p, 0.05), (p, r)


def test_one_read_is_two_transactions():
    bus = SimBus()
    bus.attach(0x76, BME280Model())
    sensor = BME280(bus)
    sensor.read()
    bus.reset_counters()
    sensor.read()
    assert (bus.transactions, bus.bytes_written, bus.bytes_read) == (2, 3, 12), \
        (bus.transactions, bus.bytes_written, bus.bytes_read)
