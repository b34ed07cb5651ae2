"""Find what is on an I2C bus and hand back ready drivers.

    from drivers.scan import scan
    unknown = []
    for sensor in scan(i2c, unknown):
        print(sensor.CHIP, hex(sensor.address), sensor.read())
    # unknown: [(0x50, "no driver for this address"), ...]

Each acknowledging address is matched against CANDIDATES; every candidate
driver for it is tried in order, and construction checks the chip's identity
(ID register, serial number, status word with CRC...), so a shared address
(0x29: TSL2591 or TSL2561) is settled by what the chip answers, never by a
guess. Driver modules are imported only when their address answers, so a
board loads just the drivers for what it has; a module not on the board is
skipped like a candidate that does not match.
"""
import sys

from drivers import SensorError
from drivers.bus import I2CDevice, describe

_MCP = (("drivers.mcp9808", "MCP9808"),)
_TSL2561 = (("drivers.tsl2561", "TSL2561"),)
_SHT3X = (("drivers.sht3x", "SHT3X"),)
_MAX = (("drivers.max44009", "MAX44009"),)
_BME = (("drivers.bme280", "BME280"),)
_DAC = (("drivers.mcp47x6", "MCP47X6"),)

# address -> candidates, most specific identity probe first.
CANDIDATES = {
    0x18: _MCP, 0x19: _MCP, 0x1A: _MCP, 0x1B: _MCP, 0x1C: _MCP, 0x1D: _MCP, 0x1E: _MCP, 0x1F: _MCP,
    # TSL2591 (ID register 0x12 = 0x50) before TSL2561 (ID register 0x0A, part number nibble).
    0x29: (("drivers.tsl2591", "TSL2591"),) + _TSL2561,
    0x39: _TSL2561,
    0x49: _TSL2561,
    0x40: (("drivers.sht2x", "SHT2X"),),
    0x44: _SHT3X, 0x45: _SHT3X,
    0x4A: _MAX, 0x4B: _MAX,
    # The MCP47x6 DAC (noise threshold) has no ID register: at 0x62 the SCD4x,
    # whose serial number has CRCs, is tried first.
    0x60: _DAC, 0x61: _DAC, 0x62: (("drivers.scd4x", "SCD4X"),) + _DAC, 0x63: _DAC,
    0x64: _DAC, 0x65: _DAC, 0x66: _DAC, 0x67: _DAC,
    0x76: _BME, 0x77: _BME,
}


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
