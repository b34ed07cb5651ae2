"""Find what is on an I2C bus and hand back ready drivers.

    from drivers.scan import scan
    unknown = []
    for sensor in scan(i2c, unknown):
        print(sensor.CHIP, hex(sensor.address), sensor.read())
    # unknown: [(0x50, "no driver for this address"), ...]

Each acknowledging address is matched against CANDIDATES (drivers/candidates.py,
generated from the driver classes' ADDRESSES and _IDENTITY by `make chips`);
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
from drivers.candidates import CANDIDATES


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
