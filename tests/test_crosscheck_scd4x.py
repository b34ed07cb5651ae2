"""Adafruit's CircuitPython SCD4x driver (adafruit-circuitpython-scd4x) against
SCD4XModel through SimBus: periodic, low-power periodic and single-shot readings over
the datasheet's output ranges (CO2 0..40,000 ppm, -10..60 C, 0..100 %RH), every
setting it offers, forced recalibration, self test, reset and power commands; our
driver on the same chip. Their sleeps run on the bus clock. CPython only (Blinka)."""
import pytest

from crosscheck_support import on_bus_time, public_driver  # first: Blinka's board pinning

adafruit_scd4x = public_driver("adafruit_scd4x")

from drivers.scd4x import SCD4X  # noqa: E402
from drivers.sim import SimBus  # noqa: E402
from drivers.sim.scd4x import SCD4XModel  # noqa: E402

VALUES = ((0, -10.0, 0.0), (400, 0.0, 20.0), (1000, 21.5, 45.0), (5000, 35.0, 65.0),
          (40000, 60.0, 100.0))
TICK_T, TICK_RH = 175 / 65535, 100 / 65535


def check(co2, t, rh, got):
    got_co2, got_t, got_rh = got
    # SCD41 datasheet table 1-3: CO2 +-(40 ppm + 5 %) over 400..5000 ppm; T +-0.8 C over
    # 15..35 C; RH +-6 %RH. The model is exact to the ppm and to the tick.
    if 400 <= co2 <= 5000:
        assert abs(got_co2 - co2) <= 40 + 0.05 * co2
    assert got_co2 == co2
    assert abs(got_t - t) <= 0.8 and abs(got_t - t) <= TICK_T, (t, got_t)
    assert abs(got_rh - rh) <= 6.0 and abs(got_rh - rh) <= TICK_RH, (rh, got_rh)


def setup(monkeypatch, **kw):
    bus = SimBus()
    model = bus.attach(0x62, SCD4XModel(**kw))
    on_bus_time(monkeypatch, adafruit_scd4x, bus)
    return bus, model, adafruit_scd4x.SCD4X(bus)    # stop_periodic_measurement first


def read(theirs):
    return theirs.CO2, theirs.temperature, theirs.relative_humidity


@pytest.mark.parametrize("low_power", [False, True], ids=["periodic", "low-power"])
def test_adafruit_scd4x_periodic_reads_what_the_model_was_set_to(monkeypatch, low_power):
    bus, model, theirs = setup(monkeypatch)
    assert model.commands == [0x3F86]
    assert theirs.serial_number == (0x1A, 0x2B, 0x3C, 0x4D, 0x5E, 0x6F)
    every = 30000 if low_power else 5000
    (theirs.start_low_periodic_measurement if low_power else theirs.start_periodic_measurement)()
    assert not theirs.data_ready
    for co2, t, rh in VALUES:
        model.co2, model.temperature, model.humidity = co2, t, rh
        bus.sleep_ms(every)
        assert theirs.data_ready
        check(co2, t, rh, read(theirs))
        assert not theirs.data_ready               # read_measurement emptied the buffer
    theirs.stop_periodic_measurement()
    ours = SCD4X(bus)                              # stops, reads the serial, starts again
    o = ours.read()
    bus.sleep_ms(5000)
    check(40000, 60.0, 100.0, read(theirs))
    assert (o["co2"], o["temperature"], o["humidity"]) == read(theirs)


def test_adafruit_scd4x_single_shots(monkeypatch):
    bus, model, theirs = setup(monkeypatch)
    assert theirs.sensor_variant_name == "SCD41"
    for co2, t, rh in VALUES:
        model.co2, model.temperature, model.humidity = co2, t, rh
        theirs.measure_single_shot()               # they sleep its 5 s
        check(co2, t, rh, read(theirs))
    model.co2, model.temperature, model.humidity = 900, 22.0, 40.0
    theirs.measure_single_shot_rht_only()          # 50 ms, CO2 reads 0
    got = read(theirs)
    assert got[0] == 0 and abs(got[1] - 22.0) <= TICK_T and abs(got[2] - 40.0) <= TICK_RH
    o = SCD4X(bus, mode="single").read()
    assert o["co2"] == 900 and abs(o["temperature"] - 22.0) <= TICK_T


def test_adafruit_scd4x_settings_persist_reinit_factory_reset(monkeypatch):
    bus, model, theirs = setup(monkeypatch)
    assert theirs.temperature_offset == pytest.approx(4.0, abs=TICK_T)   # defaults
    assert (theirs.altitude, theirs.ambient_pressure, theirs.self_calibration_enabled) == (0, 1013, True)
    assert (theirs.self_calibration_target, theirs.self_calibration_initial_period,
            theirs.self_calibration_standard_period) == (400, 44, 156)
    theirs.temperature_offset = 6.0
    theirs.altitude = 450
    theirs.ambient_pressure = 987
    theirs.self_calibration_enabled = False
    theirs.self_calibration_target = 420
    theirs.self_calibration_initial_period = 24
    theirs.self_calibration_standard_period = 72
    assert theirs.temperature_offset == pytest.approx(6.0, abs=TICK_T)
    assert (theirs.altitude, theirs.ambient_pressure, theirs.self_calibration_enabled,
            theirs.self_calibration_target, theirs.self_calibration_initial_period,
            theirs.self_calibration_standard_period) == (450, 987, False, 420, 24, 72)
    # The offset is 2 C above the default 4 C: the reading is 2 C lower (and its RH that
    # of the same water vapour 2 C cooler).
    model.temperature, model.humidity = 25.0, 50.0
    theirs.measure_single_shot()
    assert theirs.temperature == pytest.approx(23.0, abs=0.01)
    assert theirs.relative_humidity == pytest.approx(56.3, abs=0.1)
    theirs.persist_settings()
    theirs.altitude = 0
    theirs.reinit()                                # back to what was persisted
    assert theirs.altitude == 450 and not theirs.self_calibration_enabled
    theirs.factory_reset()
    assert theirs.altitude == 0 and theirs.self_calibration_enabled
    assert theirs.temperature_offset == pytest.approx(4.0, abs=TICK_T)
    theirs.self_test()                             # 10 s; raises unless the word is 0


def test_adafruit_scd4x_forced_recalibration(monkeypatch):
    bus, model, theirs = setup(monkeypatch, co2=700)
    with pytest.raises(RuntimeError, match="3 minutes"):
        theirs.force_calibration(400)              # the chip says 0xFFFF: not run long enough
    theirs.start_periodic_measurement()
    bus.sleep_ms(180000)
    assert theirs.force_calibration(400) == -300   # it stops the measurement first
    theirs.measure_single_shot()
    assert theirs.CO2 == 400


def test_adafruit_scd4x_periodic_mode_refusals_and_power(monkeypatch):
    bus, model, theirs = setup(monkeypatch)
    theirs.start_periodic_measurement()
    # The datasheet allows only read, data ready, stop and ambient pressure while
    # measuring: the chip NACKs the rest, and Adafruit's driver says why.
    with pytest.raises(RuntimeError, match="periodic measurement mode"):
        theirs.altitude = 100
    theirs.ambient_pressure = 950
    assert theirs.ambient_pressure == 950
    theirs.stop_periodic_measurement()
    theirs.power_down()
    with pytest.raises(RuntimeError):
        theirs.persist_settings()                  # asleep: not acknowledged
    theirs.wake_up()                               # never acknowledged; they expect that
    assert theirs.serial_number[0] == 0x1A
