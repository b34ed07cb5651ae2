# Chips on the board's I2C bus, as driver instances: drivers.scan when the
# drivers provide it, else a probe of the protocol's known addresses (a
# driver's constructor checks the chip's identity, so nothing is guessed).
KNOWN = (
    ((0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F), "drivers.mcp9808", "MCP9808"),
    ((0x44, 0x45), "drivers.sht3x", "SHT3x"),
    ((0x40,), "drivers.sht2x", "SHT2x"),
    ((0x62,), "drivers.scd4x", "SCD4x"),
    ((0x29, 0x39, 0x49), "drivers.tsl2561", "TSL2561"),
    ((0x29,), "drivers.tsl2591", "TSL2591"),
    ((0x4A, 0x4B), "drivers.max44009", "MAX44009"),
    ((0x76, 0x77), "drivers.bme280", "BME280"),
)


def find(i2c):
    try:
        from drivers.scan import scan
    except ImportError:
        scan = None
    if scan is not None:
        return scan(i2c)
    found = []
    try:
        present = i2c.scan()
    except OSError as e:
        print("i2c: scan failed: %r" % (e,))
        return found
    for addr in present:
        for addrs, mod, cls in KNOWN:
            if addr not in addrs:
                continue
            try:
                m = __import__(mod, None, None, (cls,))
                drv = getattr(m, cls, None) or getattr(m, cls.upper())
                found.append(drv(i2c, addr))
                break
            except ImportError:
                continue
            except Exception as e:  # SensorError: not this chip, try the next
                print("i2c: 0x%02x is not a %s (%s)" % (addr, cls, e))
        else:
            if not any(d.address == addr for d in found):
                print("i2c: unknown chip at 0x%02x" % addr)
    return found
