# drivers.scan and the SHT3x: identity by the CRC-checked status word, so an impostor
# at 0x44 is reported, not guessed. (One chip family per file: 36 KB heap.)
MICROPYTHON_MPY = "drivers, self"

from drivers.scan import scan
from drivers.sim import SimBus
from drivers.sim.base import RegisterModel
from drivers.sim.sht3x import SHT3XModel


def names(found):
    return sorted((d.CHIP, d.address) for d in found)


def test_sht3x_at_both_addresses_and_an_impostor_at_0x44():
    bus = SimBus()
    bus.attach(0x45, SHT3XModel(humidity=33.0))
    bus.attach(0x44, RegisterModel(16))
    unknown = []
    found = scan(bus, unknown)
    assert names(found) == [("SHT3x", 0x45)]
    assert abs(found[0].read()["humidity"] - 33.0) < 0.01
    assert unknown[0][0] == 0x44 and "not an SHT3x" in unknown[0][1]
