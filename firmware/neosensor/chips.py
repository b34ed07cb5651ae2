# Chips on the board's I2C bus, as ready driver instances (drivers.scan
# settles shared addresses by identity registers, never by a guess).
def find(i2c):
    from drivers.scan import scan
    unknown = []
    try:
        found = scan(i2c, unknown)
    except OSError as e:  # a stuck bus: run without chips, say why
        print("i2c: scan failed: %r" % (e,))
        return []
    for addr, why in unknown:
        print("i2c: 0x%02x ignored: %s" % (addr, why))
    return found
