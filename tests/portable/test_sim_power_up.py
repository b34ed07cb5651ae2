# Chips that convert from power-up: SimBus.attach is the power-up, so a driver that
# reads right after its identity check sees what the datasheet says, whenever its
# first access comes (MCP9808, MAX44009 models; on both interpreters).
MICROPYTHON_MPY = "drivers, self"

from drivers.sim import SimBus
from drivers.sim.max44009 import MAX44009Model
from drivers.sim.mcp9808 import MCP9808Model


def ta(bus):
    d = bus.readfrom_mem(0x18, 5, 2)
    return (d[0] << 8) | d[1]


def test_mcp9808_converts_from_attach_not_from_the_first_access():
    bus = SimBus(realtime=False)
    bus.attach(0x18, MCP9808Model(temperature=25.0))
    bus.sleep_ms(249)
    assert bus.readfrom_mem(0x18, 7, 2) == b"\x04\x00"   # identity, no conversion yet
    assert ta(bus) == 0                                    # POR value before tCONV (250 ms)
    bus.sleep_ms(1)
    assert ta(bus) & 0x1FFF == 25 * 16                     # no restart at the first access


def test_mcp9808_resolution_change_and_shutdown_restart_the_conversion():
    bus = SimBus(realtime=False)
    m = bus.attach(0x18, MCP9808Model(temperature=25.0))
    bus.sleep_ms(250)
    assert ta(bus) & 0x1FFF == 400
    bus.writeto(0x18, b"\x08\x00")                        # 0.5 C: tCONV 30 ms
    m.temperature = 30.0
    bus.sleep_ms(29)
    assert ta(bus) & 0x1FFF == 400                         # the old result until then
    bus.sleep_ms(1)
    assert ta(bus) & 0x1FFF == 480
    bus.writeto(0x18, b"\x01\x01\x00")                    # SHDN: TA holds
    m.temperature = 40.0
    bus.sleep_ms(1000)
    assert ta(bus) & 0x1FFF == 480
    bus.writeto(0x18, b"\x01\x00\x00")                    # continuous again: a new first conversion
    bus.sleep_ms(29)
    assert ta(bus) & 0x1FFF == 480
    bus.sleep_ms(1)
    assert ta(bus) & 0x1FFF == 640


def test_mcp9808_lock_bits_guard_the_limits_until_power_up():
    bus = SimBus(realtime=False)
    m = bus.attach(0x18, MCP9808Model(temperature=25.0))
    bus.writeto(0x18, b"\x04\x01\xe0")                    # TCRIT 30 C
    bus.writeto(0x18, b"\x02\xff\x60")                    # TUPPER -10 C, two's complement
    assert m.regs[4] == 0x01E0 and m.regs[2] == 0x1F60
    bus.writeto(0x18, b"\x01\x00\xa0")                    # Crit. Lock + Int. Clear
    assert bus.readfrom_mem(0x18, 1, 2) == b"\x00\x80"    # Int. Clear reads 0
    bus.writeto(0x18, b"\x01\x01\x00")                    # locks cannot be cleared, no SHDN
    assert m.regs[1] == 0x0080
    bus.writeto(0x18, b"\x04\x00\x00")                    # TCRIT locked
    bus.writeto(0x18, b"\x03\x00\x40")                    # TLOWER 4 C: the window is not locked
    assert m.regs[4] == 0x01E0 and m.regs[3] == 0x0040
    bus.sleep_ms(250)
    assert ta(bus) >> 13 == 2                              # 25 C > TUPPER -10, < TCRIT 30


def lux_regs(bus):
    return bus.readfrom_mem(0x4A, 3, 1)[0], bus.readfrom_mem(0x4A, 4, 1)[0]


def test_max44009_measures_from_attach():
    bus = SimBus(realtime=False)
    bus.attach(0x4A, MAX44009Model(lux=500.0))
    bus.sleep_ms(799)
    assert bus.readfrom_mem(0x4A, 2, 1) == b"\x03"
    assert lux_regs(bus) == (0, 0)                         # POR until the first 800 ms cycle
    bus.sleep_ms(1)
    hi, lo = lux_regs(bus)
    assert abs((1 << (hi >> 4)) * ((hi & 0x0F) << 4 | lo) * 0.045 - 500.0) <= 500.0 / 128
    bus.writeto(0x4A, b"\x02\x80")                         # continuous: a new cycle, 100 ms
    bus.sleep_ms(99)
    assert lux_regs(bus) == (hi, lo)


def test_max44009_interrupt_after_the_threshold_timer():
    bus = SimBus(realtime=False)
    m = bus.attach(0x4A, MAX44009Model(lux=500.0))
    bus.writeto(0x4A, b"\x05\x8f")   # upper threshold 2^8 x 0xFF x 0.045 = 2937.6 lx
    bus.writeto(0x4A, b"\x06\x00")
    bus.writeto(0x4A, b"\x07\x08")   # 800 ms outside the window before INTS
    bus.writeto(0x4A, b"\x01\x01")   # INTE
    bus.sleep_ms(1600)
    assert bus.readfrom_mem(0x4A, 0, 1) == b"\x00"
    m.lux = 5000.0
    bus.sleep_ms(800)                # first reading outside: the timer starts
    assert bus.readfrom_mem(0x4A, 0, 1) == b"\x00"
    bus.sleep_ms(800)                # still outside 800 ms later
    assert bus.readfrom_mem(0x4A, 0, 1) == b"\x01"
    assert bus.readfrom_mem(0x4A, 0, 1) == b"\x00"        # INTS clears when read
    m.lux = 500.0
    bus.sleep_ms(800)
    bus.readfrom_mem(0x4A, 0, 1)
    bus.sleep_ms(1600)
    assert bus.readfrom_mem(0x4A, 0, 1) == b"\x00"        # back inside: no interrupt
