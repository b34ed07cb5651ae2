# BME280 driver x BME280Model: every oversampling setting, calibration read from the chip.
from portable_support import raises, approx

MICROPYTHON_MPY = "drivers, self"
# Runs in the default 36 KB heap: tables are small ints, not floats (heap objects on the
# 64-bit unix port).

from drivers.sim import SimBus
from drivers.sim.bme280 import BME280Model
from drivers.bme280 import BME280

# T1..H6 (NAMES order) of another real-looking part.
OTHER = (28485, 26735, 50, 37886, -10625, 3024, 7000, -96, -7, 9900, -10230, 4285,
         75, 352, 12, 330, -20, 30)
# Temperature, humidity, pressure in hundredths (degC, %RH, hPa).
TABLE = (-1230, 3550, 54000, 0, 1000, 70000, 2150, 4500, 101325, 3780, 7225, 98040)


def check(sensor, model, t, h, p, tol_p):
    model.temperature, model.humidity, model.pressure = t, h, p
    r = sensor.read()
    assert approx(r["temperature"], t, 0.011), (t, r)
    assert approx(r["humidity"], h, 0.05), (h, r)
    assert approx(r["pressure"], p, tol_p), (p, r)


def test_each_oversampling_setting_and_skipped_channels():
    bus = SimBus()
    model = bus.attach(0x77, BME280Model())
    for code in range(1, 6):
        n = 1 << (code - 1)                    # 1, 2, 4, 8, 16 samples
        sensor = None                          # one driver at a time in the 36 KB heap
        sensor = BME280(bus, 0x77, oversampling=(n, n, n))
        # The chip's ctrl registers carry the code of n (5.4.3, 5.4.5).
        assert model.regs[0xF2] == code and model.regs[0xF4] == (code << 5) | (code << 2)
        check(sensor, model, 23.4, 55.5, 1001.1, 0.05 if n == 1 else 0.01)
        assert model.regs[0xF4] & 3 == 0, "forced measurement ends in sleep mode"
    sensor = None
    sensor = BME280(bus, 0x77, oversampling=(2, 0, 0))
    r = sensor.read()
    assert sorted(r) == ["temperature"], r
    with raises(ValueError, "oversampling"):
        BME280(bus, 0x77, oversampling=(3, 1, 1))


def test_calibration_comes_from_the_chip():
    bus = SimBus()
    model = bus.attach(0x76, BME280Model(calib=OTHER))
    sensor = BME280(bus)
    for i in range(0, len(TABLE), 3):
        check(sensor, model, TABLE[i] / 100, TABLE[i + 1] / 100, TABLE[i + 2] / 100, 0.05)
