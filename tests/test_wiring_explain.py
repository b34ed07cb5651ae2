"""Every wiring fault `neoc board scan` and `neoc agent scan` name, in the
words they use: SimBus with each fault it can inject (nack, timeout, corrupt,
stuck), chips at the wrong place, two chips on one address, and the line
states only a board can read (given as the board reports them). The virtual
board's own wiring faults: tests/test_board_scan.py."""
import pytest

from drivers import survey
from drivers.sim import SimBus
from drivers.sim.base import RegisterModel, SharedAddress
from drivers.sim.mcp9808 import MCP9808Model
from drivers.sim.sht3x import SHT3XModel
from drivers.wiring.explain import explain, table
from drivers.wiring.table import BOARDS, BREAKOUTS, pin_name


def details(report):
    return [p["detail"] for p in report["problems"]]


def one(report, problem):
    found = [p for p in report["problems"] if p["problem"] == problem]
    assert len(found) == 1, report["problems"]
    return found[0]["detail"]


FACTS = {"scans": [[], [], []], "error": None, "chips": [], "unknown": []}


def bus_with(*chips):
    bus = SimBus(realtime=False)
    for address, model in chips:
        bus.attach(address, model)
    return bus


def test_a_good_bus_is_a_table_of_readings_with_units():
    bus = bus_with((0x18, MCP9808Model(temperature=21.5)), (0x44, SHT3XModel(temperature=20.0, humidity=40.0)))
    report = explain(survey.survey(bus), "esp8266")
    assert report["problems"] == []
    assert [(r["address"], r["chip"], r["status"]) for r in report["rows"]] == [(0x18, "MCP9808", "ok"),
                                                                                (0x44, "SHT3x", "ok")]
    assert report["rows"][0]["reading"] == "temperature 21.5 °C"
    assert report["rows"][1]["reading"] == "humidity 40 %RH, temperature 20 °C"
    text = table(report).splitlines()
    assert text[0].split() == ["address", "chip", "status", "reading"]
    assert text[1].startswith("0x18    MCP9808   ok") and text[-1] == "all good: wired right"


@pytest.mark.parametrize("kind,power,pins", [
    ("esp8266", "3V3", "SDA goes to D5 (GPIO14) and SCL to D6 (GPIO12) on the ESP8266 NodeMCU (v2/v3) or ESP8266 "
                       "Wemos D1 mini"),
    ("esp32", "3V3", "SDA goes to D21 (GPIO21) and SCL to D22 (GPIO22) on the ESP32 DevKit (30 pins)"),
    ("pi", "pin 1 (3V3)", "SDA goes to pin 3 (GPIO2) and SCL to pin 5 (GPIO3) on the Raspberry Pi 40-pin header")])
def test_nothing_on_the_bus_names_the_pins_of_this_board_type(kind, power, pins):
    report = explain(survey.survey(bus_with()), kind)
    assert one(report, "nothing on the bus") == ("Nothing answers on the I2C bus. Check that the sensor has power "
                                                 "(VIN or VCC to %s, GND to GND) and that %s." % (power, pins))


def test_a_chip_nacked_in_every_scan_is_not_there():
    bus = bus_with((0x44, SHT3XModel()))
    bus.inject(0x44, "nack", None)
    assert "nothing on the bus" in [p["problem"] for p in explain(survey.survey(bus), "esp32")["problems"]]


def test_a_chip_missing_from_one_scan_of_three_is_a_loose_wire():
    bus = bus_with((0x44, SHT3XModel()))
    bus.inject(0x44, "nack", 1)
    text = one(explain(survey.survey(bus)), "intermittent")
    assert text == ("0x44 answered 2 of 3 scans: a loose wire or a bad contact (breadboard, jumper wire); press "
                    "the wires in, or solder the header.")


def test_a_chip_that_times_out_after_its_identification_stopped_answering():
    bus = bus_with((0x18, MCP9808Model()))
    known = {}
    survey.survey(bus, known=known)
    bus.inject(0x18, "timeout", None)
    # The scans went by before the fault (SimBus's scan hides timeouts): the reads only.
    facts = dict(FACTS, scans=[[0x18]] * 3, chips=[{"address": 0x18, "chip": "MCP9808",
                                                    "reads": survey.measure(known[0x18])}])
    report = explain(facts)
    assert report["rows"][0]["status"] == "stopped answering"
    assert one(report, "stopped answering").startswith(
        "MCP9808 at 0x18 was identified, then did not answer a reading (MCP9808@0x18: bus timeout (errno 110) "
        "reading register 0x05): a loose wire, or a chip losing power")


def test_a_nack_in_a_reading_is_named_too():
    bus = bus_with((0x18, MCP9808Model()))
    known = {}
    survey.survey(bus, known=known)
    bus.inject(0x18, "nack", 1)        # after the scans: the first read is refused, the second answers
    facts = dict(FACTS, scans=[[0x18]] * 3, chips=[{"address": 0x18, "chip": "MCP9808",
                                                    "reads": survey.measure(known[0x18])}])
    report = explain(facts)
    assert report["rows"][0]["status"] == "ok"
    assert "did not answer a reading (MCP9808@0x18: no ACK (errno 19)" in one(report, "stopped answering")
    assert "0x18 answered" not in " ".join(details(report))   # every scan saw it


def test_a_corrupt_identity_read_is_a_crc_failure_with_its_likely_causes():
    bus = bus_with((0x44, SHT3XModel()))
    bus.inject(0x44, "corrupt", 1)
    report = explain(survey.survey(bus))
    assert report["rows"] == [{"address": 0x44, "chip": "?", "status": "CRC error", "reading": ""}]
    text = one(report, "CRC failure")
    assert text.startswith("0x44 answers, but its identity read failed its CRC check: the data got garbled on "
                           "the way: wires too long (keep them under 50 cm), loose breadboard contacts, or no "
                           "pull-up resistors on SDA and SCL.")
    assert "not an SHT3x: status register read gave CRC mismatch" in text


def test_a_reading_with_a_bad_crc_now_and_then_is_a_crc_failure():
    bus = bus_with((0x44, SHT3XModel(temperature=22.0, humidity=50.0)))
    known = {}
    survey.survey(bus, known=known)
    bus.inject(0x44, "corrupt", 1)
    report = explain(survey.survey(bus, known=known))
    assert report["rows"][0]["status"] == "ok" and "temperature 22 °C" in report["rows"][0]["reading"]
    assert one(report, "CRC failure").startswith("SHT3x at 0x44: CRC failure in 1 of 2 reads: the data got "
                                                 "garbled on the way")


def test_a_stuck_register_at_identification_does_not_match_the_identity():
    bus = bus_with((0x18, MCP9808Model()))
    bus.readfrom_mem(0x18, 0x06, 2)      # the last bytes the line repeats: the manufacturer ID
    bus.inject(0x18, "stuck", None)
    report = explain(survey.survey(bus))
    text = one(report, "identity does not match")
    assert text.startswith("0x18 answers, but it fails the identity check of every driver for that address: "
                           "MCP9808@0x18: not an MCP9808: manufacturer ID 0x0054, device ID 0x00")
    assert "usual suspects at 0x18: LIS3DH accelerometer" in text


def test_another_chip_at_a_driver_address_does_not_match_the_identity():
    bus = bus_with((0x19, RegisterModel(16)))     # answers at an MCP9808 address, is not one
    report = explain(survey.survey(bus))
    assert report["rows"][0]["status"] == "wrong identity"
    assert "MCP9808@0x19: not an MCP9808: manufacturer ID 0x" in one(report, "identity does not match")


def test_an_address_no_driver_knows_names_the_usual_suspects():
    bus = bus_with((0x3C, RegisterModel(16)))
    report = explain(survey.survey(bus))
    assert report["rows"] == [{"address": 0x3C, "chip": "?", "status": "unknown chip", "reading": ""}]
    assert one(report, "unknown chip") == ("0x3c answers, but no driver here knows that address (usual suspects "
                                           "at 0x3c: PCF8574A I/O expander (0x3F: an LCD's I2C "
                                           "backpack); SSD1306 or SH1106 OLED display).")


def test_a_reading_out_of_physical_range_is_named():
    bus = bus_with((0x18, MCP9808Model(temperature=150.0)))
    report = explain(survey.survey(bus))
    assert report["rows"][0]["status"] == "out of range"
    assert one(report, "reading out of range").startswith(
        "MCP9808 at 0x18 reports an impossible value (MCP9808@0x18: ambient register 0xc960 = 150 C is outside "
        "-40..125 C): a damaged chip")


def test_a_value_past_what_the_quantity_can_be_is_named_even_when_the_driver_takes_it():
    facts = {"scans": [[0x44]] * 3, "error": None, "unknown": [],
             "chips": [{"address": 0x44, "chip": "SHT3x", "reads": [{"temperature": 21.0, "humidity": 104.2}]}]}
    assert one(explain(facts), "reading out of range") == (
        "SHT3x at 0x44 reads humidity 104.2 %RH: impossible in a room. A damaged chip, or another chip answering "
        "at its address.")


def test_two_chips_on_one_address_fail_every_crc_but_identify():
    # Two SHT3x breakouts, both at 0x45: the same status word, different readings.
    bus = bus_with((0x45, SharedAddress(SHT3XModel(temperature=19.0, humidity=35.0),
                                        SHT3XModel(temperature=27.0, humidity=60.0))))
    report = explain(survey.survey(bus))
    assert report["rows"][0]["status"] == "two chips?"
    text = one(report, "two chips on one address")
    assert text.startswith("SHT3x at 0x45 identifies itself, but every reading fails its CRC check (3 of 3): most "
                           "likely two chips answer at 0x45 (two breakouts with the same address: move one with "
                           "its address pin; 0x44 with ADR to GND or open; 0x45 with ADR to VIN)")



def test_sda_held_low_from_the_lines_or_from_a_scan_where_everyone_answers():
    report = explain(dict(FACTS, lines={"sda": [0, 0], "scl": [1, 1]}), "esp8266")
    assert one(report, "SDA held low").startswith("SDA stays low even with the board's pull-up on, so every "
                                                  "address seems to answer: SDA touches GND, or a chip is stuck")
    report = explain(dict(FACTS, scans=[list(range(8, 0x78))]))
    assert one(report, "SDA held low").startswith("SDA stays low, so every address seems to answer")


def test_scl_held_low_from_the_lines():
    assert one(explain(dict(FACTS, lines={"sda": [1, 1], "scl": [0, 0]})), "SCL held low") == (
        "SCL stays low even with the board's pull-up on: SCL touches GND, or a chip holds the clock (power it "
        "off and on again).")


def test_no_pull_ups_when_the_lines_float_low_and_the_mcu_pull_up_lifts_them():
    text = one(explain(dict(FACTS, lines={"sda": [0, 1], "scl": [0, 1]}), "esp32"), "no pull-up resistors")
    assert text.startswith("Nothing answers, and SDA and SCL read low as soon as the board's own weak pull-up is "
                           "off: nothing pulls the bus up.")
    assert text.endswith("Either no breakout is connected (SDA goes to D21 (GPIO21) and SCL to D22 (GPIO22) on "
                         "the ESP32 DevKit (30 pins)), or it has no pull-up resistors: add 4.7 kΩ from SDA to 3V3 "
                         "and from SCL to 3V3.")


def test_swapped_lines_when_the_chips_answer_only_with_sda_and_scl_exchanged():
    text = one(explain(dict(FACTS, lines={"sda": [1, 1], "scl": [1, 1]}, swapped=[0x44]), "esp8266"),
               "SDA and SCL swapped")
    assert text.startswith("SDA and SCL are swapped: the chips answer (0x44) only with the two lines exchanged. "
                           "Exchange the two wires: SDA goes to D5 (GPIO14) and SCL to D6 (GPIO12)")


def test_a_scan_error_says_a_line_is_held():
    text = one(explain(dict(FACTS, scans=[], error="I2C bus: bus timeout (errno 110) during scan")), "bus error")
    assert text.startswith("I2C bus: bus timeout (errno 110) during scan. A line is held low")


def test_the_table_names_real_pins_for_every_board_and_breakout():
    for board in BOARDS:
        for role in ("3V3", "GND", "SDA", "SCL"):
            assert pin_name(board, role)
    for chip, b in BREAKOUTS.items():
        assert set(b["i2c"].values()) <= set(b["pins"]), chip


def test_agent_scan_names_the_problem_of_its_bus():
    from rpi_agent import hardware
    from rpi_agent.scan import Scanner
    hw = hardware.simulated({0x45: SharedAddress(SHT3XModel(temperature=19.0, humidity=35.0),
                                                 SHT3XModel(temperature=27.0, humidity=60.0)),
                             0x18: MCP9808Model(temperature=21.0)})
    scanner = Scanner(hw, 1)
    report = scanner.sample()
    assert report["header"] == "i2c bus 1 (simulated): 2 chip(s) identified, 0 unknown address(es)"
    assert [p["problem"] for p in report["problems"]] == ["two chips on one address"]
    first = scanner.known[0x18]
    assert scanner.sample()["rows"][0]["reading"] == "temperature 21 °C" and scanner.known[0x18] is first
