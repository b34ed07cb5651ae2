# drivers.scan with D1's chips: identification by probing, unknown and
# unidentifiable addresses reported, missing driver modules skipped.
MICROPYTHON_MPY = "drivers, self"

from drivers import scan as scan_mod
from drivers.scan import scan
from drivers.sim import SimBus
from drivers.sim.base import RegisterModel
from drivers.sim.mcp9808 import MCP9808Model


def names(found):
    return sorted((d.CHIP, d.address) for d in found)


def test_finds_each_chip_at_its_address_and_reports_the_rest():
    bus = SimBus()
    bus.attach(0x18, MCP9808Model(temperature=20.0))
    bus.attach(0x1F, MCP9808Model(temperature=30.0))
    bus.attach(0x50, RegisterModel(16))  # an EEPROM, say
    unknown = []
    found = scan(bus, unknown)
    assert names(found) == [("MCP9808", 0x18), ("MCP9808", 0x1F)]
    assert unknown == [(0x50, "no driver for this address")]
    temps = sorted(d.read()["temperature"] for d in found if d.CHIP == "MCP9808")
    assert temps == [20.0, 30.0]


def test_a_chip_that_fails_its_identity_probe_is_not_guessed():
    bus = SimBus()
    bus.attach(0x1A, RegisterModel(16))  # answers at an MCP9808 address, is not one
    bus.attach(0x18, MCP9808Model(device_id=0x0500))  # wrong device ID
    unknown = []
    assert scan(bus, unknown) == []
    assert [a for a, why in unknown] == [0x18, 0x1A]
    assert "not an MCP9808" in unknown[0][1] and "device ID 0x05" in unknown[0][1]
    assert "MCP9808@0x1a: not an MCP9808: manufacturer ID 0x" in unknown[1][1]
    assert scan(bus) == []  # without a list the reasons are not kept


def test_missing_driver_modules_are_skipped_not_fatal():
    saved = scan_mod.CANDIDATES.get(0x50)
    scan_mod.CANDIDATES[0x50] = (("drivers.no_such_chip", "NOPE"), ("drivers.mcp9808", "NOPE"),
                                 ("drivers.mcp9808", "MCP9808"))
    try:
        bus = SimBus()
        bus.attach(0x50, MCP9808Model())
        unknown = []
        found = scan(bus, unknown)
        assert names(found) == [("MCP9808", 0x50)]
        assert unknown == []
        bus.attach(0x50, RegisterModel(16))
        scan(bus, unknown)
        assert unknown[0][0] == 0x50
        assert unknown[0][1].startswith("drivers.no_such_chip.NOPE not installed; "
                                        "drivers.mcp9808.NOPE not installed; MCP9808@0x50: not an MCP9808")
    finally:
        if saved is None:
            del scan_mod.CANDIDATES[0x50]
        else:
            scan_mod.CANDIDATES[0x50] = saved


def test_bus_faults_during_scan_do_not_stop_it():
    bus = SimBus()
    bus.attach(0x18, MCP9808Model())
    bus.attach(0x19, MCP9808Model())
    bus.inject(0x19, "nack", None)  # vanishes: not even listed
    bus.inject(0x18, "timeout")  # the scan probe times out: not listed this time
    unknown = []
    assert scan(bus, unknown) == [] and unknown == []
    bus.clear_faults()
    assert names(scan(bus)) == [("MCP9808", 0x18), ("MCP9808", 0x19)]
