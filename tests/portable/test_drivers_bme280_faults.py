# BME280 driver x BME280Model: identity, blank calibration, bus faults.
from portable_support import raises, approx

MICROPYTHON_MPY = "drivers, self"

from drivers import SensorError
from drivers.sim import SimBus
from drivers.sim.bme280 import BME280Model, CALIB
from drivers.bme280 import BME280


def check(sensor, model, t, h, p):
    model.temperature, model.humidity, model.pressure = t, h, p
    r = sensor.read()
    assert approx(r["temperature"], t, 0.011), (t, r)
    assert approx(r["humidity"], h, 0.05), (h, r)
    assert approx(r["pressure"], p, 0.05), (p, r)


def test_identity_mismatch_names_chip_address_and_value():
    bus = SimBus()
    bus.attach(0x76, BME280Model(chip_id=0x58))
    with raises(SensorError, "BME280@0x76: chip id register 0xD0 reads 0x58"):
        BME280(bus)
    bus = SimBus()
    with raises(SensorError, "BME280@0x77: no ACK"):
        BME280(bus, 0x77)


def test_blank_calibration_is_refused():
    bus = SimBus()
    bus.attach(0x76, BME280Model(calib=(0,) * 12 + CALIB[12:]))     # T1..P9 all 0
    with raises(SensorError, "calibration registers 0x88.. are blank"):
        BME280(bus)


def test_bus_faults_raise_sensor_error():
    bus = SimBus()
    model = bus.attach(0x76, BME280Model())
    sensor = BME280(bus)
    bus.inject(0x76, "nack")
    with raises(SensorError, "BME280@0x76: no ACK"):
        sensor.read()
    bus.inject(0x76, "timeout")
    with raises(SensorError, "bus timeout"):
        sensor.read()
    check(sensor, model, 20.0, 50.0, 1000.0)   # a transient fault leaves the driver usable
    bus.inject(0x76, "nack", None)              # the chip stops answering
    for _ in range(3):
        with raises(SensorError, "no ACK"):
            sensor.read()
    bus.clear_faults()
    check(sensor, model, 20.0, 50.0, 1000.0)
