# drivers.scan finds the noise module's MCP47x6 DAC; at 0x62, shared with the
# SCD4x, the DAC is tried only after the SCD4x refused (its identity is weak).
MICROPYTHON_MPY = "drivers, self"

from drivers.scan import scan
from drivers.sim import SimBus


def test_a_dac_at_0x60_and_one_at_0x62():
    from drivers.sim.mcp47x6 import MCP47X6Model
    bus = SimBus()
    bus.attach(0x60, MCP47X6Model(code=100))
    bus.attach(0x62, MCP47X6Model(code=4000))
    unknown = []
    found = scan(bus, unknown)
    assert [(d.CHIP, d.address, d.QUANTITIES) for d in found] == [("MCP47x6", 0x60, ()), ("MCP47x6", 0x62, ())]
    # The SCD4x probe's "get serial number" command (0x3682) lands in the
    # DAC at 0x62 as a fast write: its register then holds 0x682 (and a
    # power-down mode) until the noise module writes its threshold at start.
    assert [d.code for d in found] == [100, 0x682] and unknown == []
