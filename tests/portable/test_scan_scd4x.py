# drivers.scan finds an SCD4x by its CRC-checked serial number (one chip per VM:
# the SCD4x driver and model alone take a third of the 36 KB heap).
MICROPYTHON_MPY = "drivers, self"

from drivers.scan import scan
from drivers.sim import SimBus


def test_scd4x_at_0x62_and_nothing_else():
    from drivers.sim.scd4x import SCD4XModel
    bus = SimBus()
    bus.attach(0x62, SCD4XModel(co2=820))
    found = scan(bus)
    assert [(d.CHIP, d.address) for d in found] == [("SCD4x", 0x62)]
    assert found[0].serial == 0x1A2B3C4D5E6F
    assert found[0].read()["co2"] == 820
