# SCD4x driver: every injected fault and identity mismatch -> SensorError.
MICROPYTHON_MPY = "drivers, self"

from portable_support import raises

from drivers import SensorError
from drivers.scd4x import SCD4X
from drivers.sim import SimBus
from drivers.sim.base import RegisterModel
from drivers.sim.scd4x import SCD4XModel


def setup(**kw):
    bus = SimBus()
    model = bus.attach(0x62, SCD4XModel())
    return bus, model, SCD4X(bus, **kw)


def test_bus_faults_raise_sensor_error():
    bus, model, sensor = setup()
    for kind, words in (("nack", "SCD4x@0x62: no ACK"), ("timeout", "SCD4x@0x62: bus timeout"),
                        ("corrupt", "SCD4x@0x62: CRC mismatch on data ready status word")):
        bus.inject(0x62, kind)
        with raises(SensorError, words):
            sensor.read()
    bus.inject(0x62, "nack", None)
    with raises(SensorError, "no ACK"):
        sensor.read()
    bus, model, sensor = setup(mode="single")
    bus.inject(0x62, "corrupt")  # single shot: the 9-byte measurement read is hit
    with raises(SensorError, "CRC mismatch on humidity word"):
        sensor.read()


def test_stuck_data_ready_times_out_instead_of_inventing_a_sample():
    bus, model, sensor = setup()
    assert not sensor.ready()
    bus.inject(0x62, "stuck", None)  # the chip keeps answering "not ready"
    bus.reset_counters()
    with raises(SensorError, "SCD4x@0x62: no data ready after 6000 ms (status word 0x8000)"):
        sensor.read()
    assert bus.transactions == 24
    bus.clear_faults()
    assert sensor.read()["co2"] == 600


def test_out_of_range_co2_raises():
    bus, model, sensor = setup(mode="single")
    model.co2 = 50000
    with raises(SensorError, "CO2 raw value 50000 ppm is out of range"):
        sensor.read()


def test_identity_mismatch():
    bus = SimBus()
    other = RegisterModel(16)
    for i in range(16):
        other.regs[i] = i
    bus.attach(0x62, other)
    with raises(SensorError, "SCD4x@0x62: not an SCD4x: CRC mismatch on serial number word"):
        SCD4X(bus)
    with raises(SensorError, "SCD4x@0x63: no ACK"):
        SCD4X(bus, 0x63)
