"""Find what is on an I2C bus and hand back ready drivers.

    from drivers.scan import scan
    unknown = []
    for sensor in scan(i2c, unknown):
        print(sensor.CHIP, hex(sensor.address), sensor.read())
    # unknown: [(0x50, "no driver for this address"), ...]

Each acknowledging address is matched against CANDIDATES (below, generated
from the driver classes' ADDRESSES and _IDENTITY by `make chips`);
every candidate driver for it is tried in order, strongest identity check
first, and construction checks the chip's identity (ID register, serial
number, status word with CRC...), so a shared address (0x29: TSL2591 or
TSL2561; 0x62: SCD4x or the MCP47x6 DAC) is settled by what the chip answers,
never by a guess. Driver modules are imported only when their address
answers, so a board loads just the drivers for what it has; a module not on
the board is skipped like a candidate that does not match.
"""
import sys

from drivers import SensorError
from drivers.bus import I2CDevice, describe

# -- begin of the generated table: tools/gen_chip_table.py (`make chips`); do not edit --
# From the driver classes' ADDRESSES and _IDENTITY. I2C address -> candidate
# (driver module, class) in probe order, the strongest identity check first.
# A driver's tuple is written alike at each of its addresses: the compiler
# (MicroPython's as CPython's) keeps one constant for equal tuples in a
# module, so it is one object, with no global name (a qstr) to share it.
CANDIDATES = {
    0x18: (("drivers.mcp9808", "MCP9808"),),
    0x19: (("drivers.mcp9808", "MCP9808"),),
    0x1A: (("drivers.mcp9808", "MCP9808"),),
    0x1B: (("drivers.mcp9808", "MCP9808"),),
    0x1C: (("drivers.mcp9808", "MCP9808"),),
    0x1D: (("drivers.mcp9808", "MCP9808"),),
    0x1E: (("drivers.mcp9808", "MCP9808"),),
    0x1F: (("drivers.mcp9808", "MCP9808"),),
    0x29: (("drivers.tsl2591", "TSL2591"), ("drivers.tsl2561", "TSL2561"),),
    0x39: (("drivers.tsl2561", "TSL2561"),),
    0x40: (("drivers.sht2x", "SHT2X"),),
    0x44: (("drivers.sht3x", "SHT3X"),),
    0x45: (("drivers.sht3x", "SHT3X"),),
    0x49: (("drivers.tsl2561", "TSL2561"),),
    0x4A: (("drivers.max44009", "MAX44009"),),
    0x4B: (("drivers.max44009", "MAX44009"),),
    0x60: (("drivers.mcp47x6", "MCP47X6"),),
    0x61: (("drivers.mcp47x6", "MCP47X6"),),
    0x62: (("drivers.scd4x", "SCD4X"), ("drivers.mcp47x6", "MCP47X6"),),
    0x63: (("drivers.mcp47x6", "MCP47X6"),),
    0x64: (("drivers.mcp47x6", "MCP47X6"),),
    0x65: (("drivers.mcp47x6", "MCP47X6"),),
    0x66: (("drivers.mcp47x6", "MCP47X6"),),
    0x67: (("drivers.mcp47x6", "MCP47X6"),),
    0x76: (("drivers.bme280", "BME280"),),
    0x77: (("drivers.bme280", "BME280"),),
}
# -- end of the generated table --


def _driver_class(module, name):
    mod = sys.modules.get(module)
    if mod is None:
        __import__(module)
        mod = sys.modules[module]
    return getattr(mod, name)


def probe(bus, address, why=None):
    """The driver instance for the chip at `address`, or None. If `why` is a
    list, the reason of each rejected candidate is appended to it."""
    for module, name in CANDIDATES.get(address, ()):
        try:
            cls = _driver_class(module, name)
        except (ImportError, AttributeError):
            if why is not None:
                why.append("%s.%s not installed" % (module, name))
            continue
        try:
            return cls(bus, address)
        except SensorError as e:
            if why is not None:
                why.append(str(e))
    return None


def addresses(bus):
    """Addresses (7-bit ints, ascending) that ACK on the bus. A bus that cannot
    be scanned at all (SDA held low, controller timeout) raises SensorError.
    (Here, not in drivers.bus: a board's loop keeps bus.py, not this.)"""
    try:
        return sorted(I2CDevice(bus, None).bus.scan())
    except OSError as e:
        raise SensorError("I2C bus: %s during scan" % describe(e))


def scan(bus, unknown=None):
    """Driver instances for every identified chip, by address. Addresses that
    answer but match no driver go to `unknown` (if a list) as (address, reason)."""
    found = []
    for address in addresses(bus):
        why = [] if unknown is not None else None
        driver = probe(bus, address, why)
        if driver is not None:
            found.append(driver)
        elif unknown is not None:
            unknown.append((address, "; ".join(why) if why else "no driver for this address"))
    return found
