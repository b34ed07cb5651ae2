# TSL2561 driver x TSL2561Model: stuck and corrupt bytes, darkness vs a chip that lost power.
from portable_support import raises

MICROPYTHON_MPY = "drivers, self, tsl2561_helpers"

from drivers import SensorError
from drivers.tsl2561 import TSL2561
from tsl2561_helpers import setup


def test_stuck_and_corrupt_bytes():
    bus, model = setup(lux=100.0)
    sensor = TSL2561(bus, integration_ms=13)
    # The last read was CONTROL (0x03): replayed, CH0 = 0xff03 is above 13.7 ms full scale.
    bus.inject(0x39, "stuck")
    with raises(SensorError, "counts above full scale"):
        sensor.read()
    # CH1's high byte flipped by 0x5a: above the 5047 counts a 13.7 ms integration reaches.
    # (No CRC on this chip: at 402 ms, where 65535 is reachable, such a flip can pass.)
    bus.inject(0x39, "corrupt")
    with raises(SensorError, "counts above full scale"):
        sensor.read()
    assert abs(sensor.read()["lux"] - 100.0) < 5.0
    bus.inject(0x39, "corrupt")                 # on the ID read: 0x50 ^ 0x5a = 0x0a
    with raises(SensorError, "ID register 0x0A reads 0x0a"):
        TSL2561(bus)


def test_darkness_and_a_chip_that_lost_power():
    bus, model = setup(lux=0.0)
    sensor = TSL2561(bus)
    bus.sleep_ms(410)
    assert sensor.read()["lux"] == 0.0           # powered and dark: a true 0 lx
    model.lux = 50.0
    # Power loss: the chip comes back powered down, data zeroed, timing at its default.
    model._t0 = None
    model.regs[0x0] = 0
    model.regs[0xC] = model.regs[0xD] = model.regs[0xE] = model.regs[0xF] = 0
    with raises(SensorError, "found powered down (CONTROL 0x00)"):
        sensor.read()
    bus.sleep_ms(410)
    assert abs(sensor.read()["lux"] - 50.0) < 1.0
