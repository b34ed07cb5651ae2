# drivers.survey on both interpreters (it runs on a board's REPL for `neoc
# board scan`): three scans, identification by drivers.scan.probe, reads
# tried again on failure, a kept driver not identified twice, and the line
# and swapped-wires checks against fake pins.
MICROPYTHON_MPY = "drivers, self"
# The chip models share the VM's heap with the survey (on a board they are
# real chips): at the default 45k it passed with no room to spare
# (bench/portable_heap.py: min 45k).
MICROPYTHON_HEAP = "64k"

from drivers import survey
from drivers.sim import SimBus
from drivers.sim.base import RegisterModel
from drivers.sim.mcp9808 import MCP9808Model
from drivers.sim.sht3x import SHT3XModel


def test_each_chip_is_identified_and_read_once_when_all_is_well():
    bus = SimBus()
    bus.attach(0x18, MCP9808Model(temperature=21.5))
    bus.attach(0x44, SHT3XModel(temperature=20.0, humidity=40.0))
    bus.attach(0x50, RegisterModel(16))
    facts = survey.survey(bus)
    assert facts["scans"] == [[0x18, 0x44, 0x50]] * 3 and facts["error"] is None
    assert [(c["address"], c["chip"], len(c["reads"])) for c in facts["chips"]] == [(0x18, "MCP9808", 1),
                                                                                  (0x44, "SHT3x", 1)]
    assert facts["chips"][0]["reads"][0]["temperature"] == 21.5
    assert facts["unknown"] == [[0x50, ""]]


def test_a_failing_read_is_tried_again_up_to_three_times():
    bus = SimBus()
    bus.attach(0x44, SHT3XModel())
    known = {}
    survey.survey(bus, known=known)
    bus.inject(0x44, "corrupt", None)
    reads = survey.survey(bus, known=known)["chips"][0]["reads"]
    assert len(reads) == 3 and all("CRC mismatch" in r for r in reads)
    bus.clear_faults()
    bus.inject(0x44, "corrupt", 1)
    reads = survey.survey(bus, known=known)["chips"][0]["reads"]
    assert "CRC mismatch" in reads[0] and isinstance(reads[1], dict) and len(reads) == 2


def test_a_known_driver_is_kept_and_dropped_when_its_chip_leaves():
    bus = SimBus(trace=True)
    bus.attach(0x18, MCP9808Model())
    known = {}
    survey.survey(bus, known=known)
    first = known[0x18]
    survey.survey(bus, known=known)
    assert known[0x18] is first                 # read again, not identified again
    bus.detach(0x18)
    assert survey.survey(bus, known=known)["chips"] == [] and known == {}


def test_sda_held_low_is_not_identified_address_by_address():
    class AllAck(SimBus):
        def scan(self):
            return list(range(0x08, 0x78))
    facts = survey.survey(AllAck())
    assert len(facts["scans"]) == 1 and len(facts["scans"][0]) == 112 and facts["chips"] == [] and facts["unknown"] == []


def test_a_bus_that_cannot_be_scanned_stops_the_scans_with_its_error():
    class Stuck(SimBus):
        def scan(self):
            raise OSError(110)
    facts = survey.survey(Stuck())
    assert facts["scans"] == [] and "bus timeout (errno 110) during scan" in facts["error"]


class FakePin:
    IN = 0
    PULL_UP = 1
    levels = {}            # pin -> (floating level, pulled-up level)

    def __init__(self, n, mode=-1, pull=-1):
        self.n, self.pull = n, pull

    def value(self):
        return self.levels.get(self.n, (1, 1))[1 if self.pull == self.PULL_UP else 0]


def test_lines_are_read_without_and_with_the_pull_up():
    FakePin.levels = {14: (0, 1), 12: (0, 0)}
    assert survey.lines(FakePin, 14, 12) == {"sda": [0, 1], "scl": [0, 0]}


def test_swapped_scans_with_the_lines_exchanged():
    calls = []

    class I2C:
        def __init__(self, scl, sda):
            calls.append((scl.n, sda.n))

        def scan(self):
            return [0x44]
    assert survey.swapped(I2C, FakePin, 14, 12) == [0x44] and calls == [(14, 12)]
