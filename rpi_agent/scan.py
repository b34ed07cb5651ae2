"""`neoc agent scan`: what answers on the bus, what it was identified as (by
drivers.scan, as on the firmware), and one reading of each chip."""
from rpi_agent import chips


def _value(v):
    return "%.3f" % v if isinstance(v, float) else str(v)


def report(hw, bus):
    unknown = []
    try:
        found = chips.find(hw, unknown)
    except Exception as e:  # SensorError: a bus that cannot be scanned at all
        return "i2c bus %d: %s" % (bus, e)
    lines = ["i2c bus %d%s: %d chip(s) identified, %d unknown address(es)"
             % (bus, " (simulated)" if hw.simulated else "", len(found), len(unknown))]
    for c in found:
        try:
            r = c.read()
            reading = ", ".join("%s=%s" % (k, _value(r[k])) for k in sorted(r))
        except Exception as e:
            reading = "read failed: %s" % e
        via = getattr(c, "SOURCE", "drivers." + type(c).__module__.rpartition(".")[2])
        lines.append("  0x%02x  %-9s via %-16s %s" % (c.address, c.CHIP, via, reading))
    for addr, why in unknown:
        lines.append("  0x%02x  unknown   %s" % (addr, why))
    return "\n".join(lines)
