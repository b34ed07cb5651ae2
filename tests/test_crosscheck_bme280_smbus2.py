"""The smbus2-based RPi.bme280 package (PyPI `RPi.bme280`, `import bme280`) against
BME280Model over SimBus's smbus2 API (read_word_data, read_byte_data,
write_byte_data, read_i2c_block_data): calibration load, forced-mode samples at
each oversampling over the datasheet's -40..85 C, 0..100 %RH, 300..1100 hPa, within
its accuracy; our driver agrees on the same chip. CPython only."""
import pytest

from crosscheck_support import on_bus_time, public_driver

bme280 = public_driver("bme280")

from drivers.bme280 import BME280  # noqa: E402
from drivers.sim import SimBus  # noqa: E402
from drivers.sim.bme280 import BME280Model  # noqa: E402

# BME280 datasheet section 1 (absolute accuracy): +-1 degC, +-3 %RH, +-1 hPa.
TABLE = [(-40.0, 5.0, 300.0), (0.0, 50.0, 800.0), (21.5, 45.0, 1013.25), (55.5, 95.0, 1050.0),
         (85.0, 100.0, 1100.0), (85.0, 0.0, 300.0)]
OTHER_CALIB = {"T1": 28485, "T2": 26735, "T3": 50, "P1": 37886, "P2": -10625, "P3": 3024,
               "P4": 7000, "P5": -96, "P6": -7, "P7": 9900, "P8": -10230, "P9": 4285,
               "H1": 75, "H2": 352, "H3": 0, "H4": 330, "H5": -20, "H6": 30}


@pytest.mark.parametrize("calib", [None, OTHER_CALIB], ids=["calib-A", "calib-B"])
@pytest.mark.parametrize("osrs", [1, 2, 3, 4, 5], ids=["x1", "x2", "x4", "x8", "x16"])
def test_rpi_bme280_reads_what_the_model_was_set_to(monkeypatch, calib, osrs):
    bus = SimBus()
    model = bus.attach(0x76, BME280Model(calib=calib))
    on_bus_time(monkeypatch, bme280, bus)          # its wait after the forced-mode start
    params = bme280.load_calibration_params(bus, 0x76)
    names = "T1 T2 T3 P1 P2 P3 P4 P5 P6 P7 P8 P9 H1 H2 H3 H4 H5 H6".split()
    assert tuple(params["dig_" + n] for n in names) == model.calib
    ours = BME280(bus, 0x76, oversampling=(1 << (osrs - 1),) * 3)
    for t, h, p in TABLE:
        model.temperature, model.humidity, model.pressure = t, h, p
        before = model.measurements
        got = bme280.sample(bus, 0x76, params, sampling=osrs)
        assert model.measurements == before + 1 and model.regs[0xF4] & 3 == 0   # forced, back to sleep
        assert abs(got.temperature - t) <= 1.0 and abs(got.humidity - h) <= 3.0 \
            and abs(got.pressure - p) <= 1.0, (t, h, p, got)
        o = ours.read()
        # Both the datasheet 8.1 double-precision formulas on the same raw values.
        assert abs(o["temperature"] - got.temperature) <= 0.02, (o, got)
        assert abs(o["humidity"] - got.humidity) <= 0.1, (o, got)
        assert abs(o["pressure"] - got.pressure) <= 0.05, (o, got)
