# SHT3x driver against its command-level model, on both interpreters.
MICROPYTHON_MPY = "drivers, self"

from portable_support import approx, raises

from drivers import SensorError
from drivers.sht3x import SHT3X
from drivers.sim import Nack, SimBus
from drivers.sim.base import RegisterModel
from drivers.sim.sht3x import SHT3XModel


def setup(address=0x44, **kw):
    bus = SimBus()
    model = bus.attach(address, SHT3XModel())
    return bus, model, SHT3X(bus, address, **kw)


def test_round_trip_over_the_range():
    bus, model, sensor = setup()
    for t, rh in ((-40.0, 0.0), (-10.5, 12.5), (0.0, 35.0), (21.3, 50.0), (60.0, 90.0), (125.0, 100.0)):
        model.temperature = t
        model.humidity = rh
        got = sensor.read()
        assert approx(got["temperature"], t, 0.0014), (t, got)
        assert approx(got["humidity"], rh, 0.0008), (rh, got)
    assert sensor.status == 0x8010 and sensor.QUANTITIES == ("temperature", "humidity")


def test_each_repeatability_sends_its_command_and_waits_its_duration():
    for rep, cmd, wait in (("high", 0x2400, 15), ("medium", 0x240B, 6), ("low", 0x2416, 4)):
        bus, model, sensor = setup(0x45, repeatability=rep)
        bus.reset_counters()
        t0 = bus.skipped_ms
        sensor.read()
        assert model.commands[-1] == cmd
        assert bus.skipped_ms - t0 == wait
        assert (bus.transactions, bus.bytes_written, bus.bytes_read) == (2, 2, 6)
    with raises(ValueError, "repeatability"):
        SHT3X(bus, 0x45, repeatability="best")


def test_model_nacks_until_the_measurement_is_done():
    bus = SimBus(realtime=False)
    bus.attach(0x44, SHT3XModel())
    bus.writeto(0x44, b"\x24\x00")
    bus.sleep_ms(14)
    with raises(Nack):
        bus.readfrom(0x44, 6)
    with raises(Nack):  # and ignores commands meanwhile
        bus.writeto(0x44, b"\xf3\x2d")
    bus.sleep_ms(1)
    assert len(bus.readfrom(0x44, 6)) == 6
    with raises(Nack):  # a result is read once
        bus.readfrom(0x44, 6)


def test_bus_faults_raise_sensor_error():
    bus, model, sensor = setup()
    for kind, words in (("nack", "SHT3x@0x44: no ACK"), ("timeout", "SHT3x@0x44: bus timeout")):
        bus.inject(0x44, kind)
        with raises(SensorError, words):
            sensor.read()
    bus.inject(0x44, "corrupt")
    with raises(SensorError, "SHT3x@0x44: CRC mismatch on humidity word"):
        sensor.read()
    bus.inject(0x44, "nack", None)
    with raises(SensorError, "no ACK"):
        sensor.read()
    bus.clear_faults()
    assert approx(sensor.read()["humidity"], 50.0, 0.01)


def test_stuck_bus_is_caught_by_the_crc():
    # The last read was the 3-byte status: a stuck 6-byte read repeats it and
    # then reads released (0xFF) lines, whose CRC cannot match.
    bus, model, sensor = setup()
    bus.inject(0x44, "stuck")
    with raises(SensorError, "CRC mismatch on humidity word 0xffff"):
        sensor.read()


def test_identity_mismatch():
    bus = SimBus()
    other = RegisterModel(16)
    for i in range(16):
        other.regs[i] = i
    bus.attach(0x44, other)  # a register chip where an SHT3x should be
    with raises(SensorError, "SHT3x@0x44: not an SHT3x: status register read gave CRC mismatch"):
        SHT3X(bus)
    with raises(SensorError, "SHT3x@0x45: no ACK"):
        SHT3X(bus, 0x45)
