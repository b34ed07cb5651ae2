# drivers.scan and the SHT2x/HTU21D at 0x40: identity by the user register after a
# soft reset. (One chip family per file: 36 KB heap.)
MICROPYTHON_MPY = "drivers, self"

from drivers.scan import scan
from drivers.sim import SimBus
from drivers.sim.base import RegisterModel
from drivers.sim.sht2x import SHT2XModel


def test_sht2x_at_0x40():
    bus = SimBus()
    bus.attach(0x40, SHT2XModel(temperature=19.0))
    found = scan(bus)
    assert [(d.CHIP, d.address) for d in found] == [("SHT2x", 0x40)]
    assert abs(found[0].read()["temperature"] - 19.0) < 0.01


def test_something_else_at_0x40_is_reported():
    bus = SimBus()
    other = bus.attach(0x40, RegisterModel(16))
    for i in range(16):
        other.regs[i] = 0xFF
    unknown = []
    assert scan(bus, unknown) == []
    assert unknown == [(0x40, "SHT2x@0x40: not an SHT2x/HTU21D: user register after soft reset reads 0xff "
                              "(want bits 7,1,0 = 0,1,0)")]
