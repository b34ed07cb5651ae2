# BME280 driver x BME280Model: identity, bus faults, stuck/corrupt bytes, a chip that hangs.
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


def test_identity_mismatch_names_chip_address_and_value():
    bus, model = setup(chip_id=0x58)
    with raises(SensorError, "BME280@0x76: chip id register 0xD0 reads 0x58"):
        BME280(bus)
    bus = SimBus()
    with raises(SensorError, "BME280@0x77: no ACK"):
        BME280(bus, 0x77)


def test_blank_calibration_is_refused():
    zero = {}
    for k in ("T1", "T2", "T3", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9"):
        zero[k] = 0
    bus, model = setup(calib=zero)
    with raises(SensorError, "calibration registers 0x88.. are blank"):
        BME280(bus)


def test_bus_faults_raise_sensor_error():
    bus, model = setup()
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
