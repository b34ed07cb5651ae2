# The scan's generated table (CANDIDATES in drivers/scan.py) as the board loads it:
# one tuple per driver whatever the number of its addresses, and the probe
# order at the shared addresses.
from drivers.scan import CANDIDATES


def test_each_drivers_tuple_is_one_object_across_its_addresses():
    mcp = CANDIDATES[0x18]
    for address in range(0x19, 0x20):
        assert CANDIDATES[address] is mcp
    assert CANDIDATES[0x39] is CANDIDATES[0x49]
    assert CANDIDATES[0x4A] is CANDIDATES[0x4B]
    dac = CANDIDATES[0x60]
    for address in (0x61, 0x63, 0x64, 0x65, 0x66, 0x67):
        assert CANDIDATES[address] is dac


def test_shared_addresses_list_the_strongest_identity_check_first():
    assert CANDIDATES[0x29] == (("drivers.tsl2591", "TSL2591"), ("drivers.tsl2561", "TSL2561"))
    assert CANDIDATES[0x62] == (("drivers.scd4x", "SCD4X"), ("drivers.mcp47x6", "MCP47X6"))
