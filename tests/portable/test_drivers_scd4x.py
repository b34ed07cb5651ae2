# SCD4x driver against its command-level model: round trips and both modes.
MICROPYTHON_MPY = "drivers, self"

from portable_support import approx, raises

from drivers.scd4x import SCD4X
from drivers.sim import Nack, SimBus
from drivers.sim.scd4x import SCD4XModel


def setup(**kw):
    bus = SimBus()
    model = bus.attach(0x62, SCD4XModel())
    return bus, model, SCD4X(bus, **kw)


def test_round_trip_in_both_modes():
    for mode in ("periodic", "single"):
        bus, model, sensor = setup(mode=mode)
        for co2, t, rh in ((0, -10.0, 0.0), (400, 0.0, 20.0), (612, 21.4, 47.5), (5000, 60.0, 95.0),
                           (40000, 60.0, 100.0)):
            model.co2, model.temperature, model.humidity = co2, t, rh
            got = sensor.read()
            assert got["co2"] == co2, (mode, got)
            assert approx(got["temperature"], t, 0.0014), (mode, got)
            assert approx(got["humidity"], rh, 0.0008), (mode, got)
    assert sensor.serial == 0x1A2B3C4D5E6F and sensor.QUANTITIES == ("co2", "temperature", "humidity")
    with raises(ValueError, "mode"):
        SCD4X(bus, mode="fast")


def test_periodic_mode_waits_for_the_next_sample():
    bus, model, sensor = setup()
    assert model.periodic and model.commands == [0x3F86, 0x3682, 0x21B1]
    assert not sensor.ready()
    t0 = bus.now_ms()
    sensor.read()
    assert 5000 <= bus.now_ms() - t0 < 5600  # first sample 5 s after start
    t0 = bus.now_ms()
    bus.reset_counters()
    sensor.read()  # the buffer was emptied: wait for the next one
    assert 4400 <= bus.now_ms() - t0 < 5600
    assert model.commands[-1] == 0xEC05 and bus.bytes_read % 3 == 0


def test_single_shot_mode_is_one_command_and_one_read():
    bus, model, sensor = setup(mode="single")
    assert not model.periodic
    bus.reset_counters()
    t0 = bus.now_ms()
    sensor.read()
    assert model.commands[-2:] == [0x219D, 0xEC05]
    assert (bus.transactions, bus.bytes_written, bus.bytes_read) == (3, 4, 9)
    assert 5001 <= bus.now_ms() - t0 < 5100


def test_model_timing_and_mode_rules():
    bus = SimBus(realtime=False)
    bus.attach(0x62, SCD4XModel())
    bus.writeto(0x62, b"\x21\xb1")
    with raises(Nack):  # serial number is an idle-mode command
        bus.writeto(0x62, b"\x36\x82")
    bus.writeto(0x62, b"\xec\x05")
    bus.sleep_ms(1)
    with raises(Nack):  # nothing measured yet: read header NACKed
        bus.readfrom(0x62, 9)
    bus.writeto(0x62, b"\x3f\x86")
    bus.sleep_ms(499)
    with raises(Nack):  # stop takes 500 ms
        bus.writeto(0x62, b"\x36\x82")
    bus.sleep_ms(1)
    bus.writeto(0x62, b"\x36\x82")
    with raises(Nack):  # 1 ms execution time
        bus.readfrom(0x62, 9)
    bus.sleep_ms(1)
    assert len(bus.readfrom(0x62, 9)) == 9
