# drivers.scan with the Sensirion chips: identity by status word / user register /
# serial number, each answering only at its own address.
MICROPYTHON_MPY = "drivers, self"

from drivers.scan import scan
from drivers.sim import SimBus
from drivers.sim.base import RegisterModel


def names(found):
    return sorted((d.CHIP, d.address) for d in found)


def test_sht3x_at_both_addresses_and_an_impostor_at_0x44():
    from drivers.sim.sht3x import SHT3XModel
    bus = SimBus()
    bus.attach(0x45, SHT3XModel(humidity=33.0))
    bus.attach(0x44, RegisterModel())
    unknown = []
    found = scan(bus, unknown)
    assert names(found) == [("SHT3x", 0x45)]
    assert abs(found[0].read()["humidity"] - 33.0) < 0.01
    assert unknown[0][0] == 0x44 and "not an SHT3x" in unknown[0][1]


def test_sht2x_and_scd4x():
    from drivers.sim.sht2x import SHT2XModel
    from drivers.sim.scd4x import SCD4XModel
    bus = SimBus()
    bus.attach(0x40, SHT2XModel(temperature=19.0))
    bus.attach(0x62, SCD4XModel(co2=820))
    found = scan(bus)
    assert names(found) == [("SCD4x", 0x62), ("SHT2x", 0x40)]
    for d in found:
        r = d.read()
        if d.CHIP == "SCD4x":
            assert r["co2"] == 820
        else:
            assert abs(r["temperature"] - 19.0) < 0.01
