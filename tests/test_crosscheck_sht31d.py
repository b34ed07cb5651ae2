"""Adafruit's CircuitPython SHT31-D driver (adafruit-circuitpython-sht31d) against
SHT3XModel through SimBus: its start-up (break 0x3093, soft reset), single shot with
and without clock stretching at each repeatability, periodic mode at each rate and
ART, heater, status and serial number, over the datasheet's -40..125 C and
0..100 %RH; our driver on the same chip. CPython only (Blinka)."""
import pytest

from crosscheck_support import on_bus_time, public_driver  # first: Blinka's board pinning

adafruit_sht31d = public_driver("adafruit_sht31d")

from drivers.sht3x import SHT3X  # noqa: E402
from drivers.sim import SimBus  # noqa: E402
from drivers.sim.sht3x import SHT3XModel  # noqa: E402

# SHT31 datasheet table 1/2 (typical accuracy): +-2 %RH (up to +-4 at the ends of the
# range), +-0.2 C from 0 to 90 C and up to +-0.7 C at -40 / 125 C. The model is exact
# to the tick, so the readings must also be within a tick's rounding of the value.
VALUES = ((-40.0, 0.0), (-10.0, 10.0), (0.0, 35.5), (21.5, 50.0), (60.0, 80.0), (90.0, 95.0),
          (125.0, 100.0))
TICK_T, TICK_RH = 175 / 65535, 100 / 65535


def check(got_t, got_rh, t, rh):
    assert abs(got_t - t) <= (0.2 if 0 <= t <= 90 else 0.7) and abs(got_t - t) <= TICK_T, (t, got_t)
    assert abs(got_rh - rh) <= 4.0 and abs(got_rh - rh) <= TICK_RH, (rh, got_rh)


def setup(monkeypatch):
    bus = SimBus()
    model = bus.attach(0x44, SHT3XModel())
    on_bus_time(monkeypatch, adafruit_sht31d, bus)
    return bus, model, adafruit_sht31d.SHT31D(bus)


@pytest.mark.parametrize("rep", ["High", "Medium", "Low"])  # their REP_* values
@pytest.mark.parametrize("stretch", [False, True])
def test_adafruit_sht31d_single_shot_reads_what_the_model_was_set_to(monkeypatch, rep, stretch):
    bus, model, theirs = setup(monkeypatch)
    # Their start-up: break (stop periodic acquisition) then soft reset, both taken.
    assert model.commands[:2] == [0x3093, 0x30A2]
    theirs.repeatability = rep
    theirs.clock_stretching = stretch
    ours = SHT3X(bus, repeatability=rep.lower())
    for t, rh in VALUES:
        model.temperature, model.humidity = t, rh
        got_t, got_rh = theirs.temperature, theirs.relative_humidity
        check(got_t, got_rh, t, rh)
        o = ours.read()
        assert abs(o["temperature"] - got_t) <= 1e-9 and abs(o["humidity"] - got_rh) <= 1e-9
    single = {("High", False): 0x2400, ("Medium", False): 0x240B, ("Low", False): 0x2416,
              ("High", True): 0x2C06, ("Medium", True): 0x2C0D, ("Low", True): 0x2C10}
    assert single[(rep, stretch)] in model.commands


@pytest.mark.parametrize("freq", [0.5, 1, 2, 4, 10])
def test_adafruit_sht31d_periodic_mode_at_each_rate(monkeypatch, freq):
    bus, model, theirs = setup(monkeypatch)
    theirs.frequency = freq
    theirs.mode = adafruit_sht31d.MODE_PERIODIC
    for t, rh in VALUES:
        model.temperature, model.humidity = t, rh
        bus.sleep_ms(1000 / freq + 16)      # a new result (they fetch once a period)
        check(theirs.temperature, theirs.relative_humidity, t, rh)
    theirs.mode = adafruit_sht31d.MODE_SINGLE  # break, then single shots again
    assert model.commands[-1] == 0x3093
    model.temperature = 33.0
    assert abs(theirs.temperature - 33.0) <= TICK_T


def test_adafruit_sht31d_art_heater_status_serial(monkeypatch):
    bus, model, theirs = setup(monkeypatch)
    assert theirs.status & 0x0012 == 0x0010     # reset detected, last command processed
    theirs.heater = True
    assert theirs.heater and theirs.status & 0x2000
    theirs.heater = False
    assert not theirs.heater
    assert theirs.serial_number == model.serial
    theirs.art = True
    theirs.mode = adafruit_sht31d.MODE_PERIODIC
    # Their loop sends ART, then also the 4 Hz high repeatability command, which the
    # model (like the chip, to our reading of 4.5) takes as the acquisition to run.
    assert model.commands[-2:] == [0x2B32, 0x2334]
    model.temperature, model.humidity = 18.0, 66.0
    bus.sleep_ms(266)
    check(theirs.temperature, theirs.relative_humidity, 18.0, 66.0)


def test_adafruit_sht31d_reads_nack_before_the_periodic_data_is_there(monkeypatch):
    # Fetching before the first result: the chip NACKs the read header (datasheet 4.6);
    # Adafruit's driver lets the OSError through.
    bus, model, theirs = setup(monkeypatch)
    theirs.mode = adafruit_sht31d.MODE_PERIODIC
    with pytest.raises(OSError):
        theirs.temperature
