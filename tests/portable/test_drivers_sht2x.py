# SHT2x/HTU21D driver against its command-level model, on both interpreters.
MICROPYTHON_MPY = "drivers, self"

from portable_support import approx, raises

from drivers.sht2x import SHT2X
from drivers.sim import Nack, SimBus
from drivers.sim.sht2x import SHT2XModel


def setup(**kw):
    bus = SimBus()
    model = bus.attach(0x40, SHT2XModel())
    return bus, model, SHT2X(bus, **kw)


def test_round_trip_at_every_resolution():
    for res, t_tol, rh_tol in (((12, 14), 0.006, 0.016), ((8, 12), 0.022, 0.25),
                               ((10, 13), 0.011, 0.062), ((11, 11), 0.043, 0.031)):
        bus, model, sensor = setup(resolution=res)
        for t, rh in ((-40.0, 0.0), (-5.25, 10.0), (21.3, 45.5), (60.0, 85.0), (125.0, 100.0)):
            model.temperature = t
            model.humidity = rh
            got = sensor.read()
            assert approx(got["temperature"], t, t_tol), (res, t, got)
            assert approx(got["humidity"], rh, rh_tol), (res, rh, got)


def test_resolution_is_written_to_the_user_register_and_sets_the_waits():
    for res, code, waits in (((12, 14), 0x00, 114), ((8, 12), 0x01, 26), ((10, 13), 0x80, 52),
                             ((11, 11), 0x81, 26)):
        bus, model, sensor = setup(resolution=res)
        assert model.user & 0x81 == code and model.user & 0x02
        t0 = bus.skipped_ms
        bus.reset_counters()
        sensor.read()
        assert bus.skipped_ms - t0 == waits
        assert (bus.transactions, bus.bytes_written, bus.bytes_read) == (4, 2, 6)
    with raises(ValueError, "resolution"):
        SHT2X(bus, resolution=(12, 12))


def test_model_nacks_until_the_measurement_is_done():
    bus = SimBus(realtime=False)
    bus.attach(0x40, SHT2XModel())
    bus.writeto(0x40, b"\xf3")
    bus.sleep_ms(84)
    with raises(Nack):
        bus.readfrom(0x40, 3)
    bus.sleep_ms(1)
    assert bus.readfrom(0x40, 3)[1] & 0x03 == 0
    bus.writeto(0x40, b"\xe5")  # hold master: the stretch is the wait
    assert bus.readfrom(0x40, 3)[1] & 0x03 == 2
