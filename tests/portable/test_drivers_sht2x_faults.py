# SHT2x/HTU21D driver: every injected fault and identity mismatch -> SensorError.
MICROPYTHON_MPY = "drivers, self"

from portable_support import raises

from drivers import SensorError
from drivers.sht2x import SHT2X
from drivers.sim import SimBus
from drivers.sim.base import RegisterModel
from drivers.sim.sht2x import SHT2XModel


def setup(**kw):
    bus = SimBus()
    model = bus.attach(0x40, SHT2XModel())
    return bus, model, SHT2X(bus, **kw)


def test_bus_faults_raise_sensor_error():
    bus, model, sensor = setup()
    for kind, words in (("nack", "SHT2x@0x40: no ACK"), ("timeout", "SHT2x@0x40: bus timeout"),
                        ("corrupt", "SHT2x@0x40: CRC mismatch on temperature word")):
        bus.inject(0x40, kind)
        with raises(SensorError, words):
            sensor.read()
    bus.inject(0x40, "nack", None)
    with raises(SensorError, "no ACK"):
        sensor.read()
    bus.clear_faults()
    model.humidity = 130.0
    with raises(SensorError, "out of range"):
        sensor.read()


def test_stuck_humidity_read_is_caught_by_the_status_bits():
    bus, model, sensor = setup()
    bus.writeto(0x40, b"\xe3")
    bus.readfrom(0x40, 3)  # the last read is now a temperature word
    bus.inject(0x40, "stuck", None)
    with raises(SensorError, "humidity read returned a temperature word"):
        sensor.read()


def test_identity_mismatch():
    bus = SimBus()
    other = RegisterModel(16)
    for i in range(16):
        other.regs[i] = 0xA5
    bus.attach(0x40, other)
    with raises(SensorError, "SHT2x@0x40: not an SHT2x/HTU21D: user register after soft reset reads 0xa5"):
        SHT2X(bus)
