# drivers.scan on a bus carrying several chips: it must find exactly them, and tell the
# two light sensors that share 0x29 apart by probing their identity registers.
MICROPYTHON_MPY = "drivers, self"
# Four models, four drivers, SimBus and scan as bytecode: a mixed bus does not fit the
# 36 KB a single chip's test does on the 64-bit unix port.
MICROPYTHON_HEAP = "96k"

from drivers.sim import SimBus


def names(found):
    return sorted((d.CHIP, d.address) for d in found)


def test_mixed_bus_finds_exactly_the_chips_on_it():
    from drivers.scan import scan
    from drivers.sim.mcp9808 import MCP9808Model
    from drivers.sim.tsl2561 import TSL2561Model
    from drivers.sim.sht3x import SHT3XModel
    from drivers.sim.bme280 import BME280Model
    bus = SimBus()
    bus.attach(0x18, MCP9808Model(temperature=22.5))
    bus.attach(0x39, TSL2561Model(lux=250.0))
    bus.attach(0x44, SHT3XModel(temperature=23.0, humidity=40.0))
    bus.attach(0x76, BME280Model(temperature=21.0, humidity=45.0, pressure=1001.0))
    from drivers.sim.base import RegisterModel
    bus.attach(0x50, RegisterModel())             # an EEPROM: answers, no driver
    unknown = []
    found = scan(bus, unknown)
    assert [u[0] for u in unknown] == [0x50], unknown
    assert names(found) == [("BME280", 0x76), ("MCP9808", 0x18), ("SHT3x", 0x44),
                            ("TSL2561", 0x39)], names(found)
    # What scan hands back are working drivers.
    for d in found:
        r = d.read()
        for k in d.QUANTITIES:
            assert k in r, (d.CHIP, r)
    bus.sleep_ms(500)
    by_chip = {}
    for d in found:
        by_chip[d.CHIP] = d
    assert abs(by_chip["BME280"].read()["pressure"] - 1001.0) < 0.1
    assert abs(by_chip["TSL2561"].read()["lux"] - 250.0) < 3.0


def test_0x29_tsl2591_is_identified_as_tsl2591():
    from drivers.scan import scan
    from drivers.sim.tsl2591 import TSL2591Model
    bus = SimBus()
    model = bus.attach(0x29, TSL2591Model(lux=80.0))
    found = scan(bus)
    assert names(found) == [("TSL2591", 0x29)], names(found)
    bus.sleep_ms(200)
    assert abs(found[0].read()["lux"] - 80.0) < 1.0


def test_0x29_tsl2561_is_identified_as_tsl2561():
    from drivers.scan import scan
    from drivers.sim.tsl2561 import TSL2561Model
    bus = SimBus()
    bus.attach(0x29, TSL2561Model(lux=80.0))
    found = scan(bus)
    assert names(found) == [("TSL2561", 0x29)], names(found)
    bus.sleep_ms(500)
    assert abs(found[0].read()["lux"] - 80.0) < 2.0


def test_nothing_answers_then_nothing_is_found():
    from drivers.scan import scan
    assert scan(SimBus()) == []
