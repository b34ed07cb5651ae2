"""What a virtual board is made of, as its command line describes it: the
board type and its I2C pins (the firmware's own table), the simulated chips
(drivers/sim's models) with their quantities, fixed or drifting."""
import math
import re

from drivers.sim.registry import models
from toolchain.firmware import FIRMWARE, literal

BOARDS = {board: {"sda": sda, "scl": scl}
          for board, (sda, scl) in literal(FIRMWARE / "neosensor" / "setup.py", "PINS").items()}
MODELS = models()
CHIPS = tuple(MODELS)
_NUMBER = r"-?\d+(?:\.\d+)?"
_DRIFT_RE = re.compile(r"^(%s)\.\.(%s)/(\d+(?:\.\d+)?)s?$" % (_NUMBER, _NUMBER))


class BoardError(ValueError):
    pass

# Wiring faults a board can be given (`neoc board run --wiring FAULT`, or
# `wiring FAULT` on its stdin while it runs; "ok" clears them). Two chips at
# one address need no fault: give both (--chip sht3x@0x45 twice).
WIRING = {
    "swapped": "SDA and SCL wires exchanged: the chips answer only with the two pins swapped",
    "sda-low": "SDA held low (touching GND, or a chip stuck mid-transfer): every address seems to ACK",
    "scl-low": "SCL held low: every transfer times out, a scan finds nobody",
    "no-pullup": "no pull-up resistors: both lines float low unless the MCU's own pull-up is on",
    "loose@ADDR": "a loose wire to the chip at ADDR: it misses every other scan",
    "ok": "clears every wiring fault",
}


def parse_wiring(text):
    """`swapped`, `sda-low`, `scl-low`, `no-pullup`, `loose@ADDR`, `ok` -> (kind, address or None)."""
    kind, at, addr = text.strip().lower().partition("@")
    if kind == "loose" and at:
        try:
            return kind, int(addr, 0)
        except ValueError:
            raise BoardError("wiring %r: bad I2C address %r" % (text, addr)) from None
    if kind in WIRING and not at:
        return kind, None
    raise BoardError("wiring %r: one of %s" % (text, ", ".join(WIRING)))


def parse_quantity(text):
    """A number, or a drift `LOW..HIGH/PERIOD` kept as its normalised string
    (the VM computes the cycle from the clock)."""
    text = text.strip()
    if re.fullmatch(_NUMBER, text):
        return float(text)
    m = _DRIFT_RE.match(text)
    if not m:
        raise BoardError("quantity %r: want a number or LOW..HIGH/PERIOD (e.g. 19..24/600s)" % text)
    lo, hi, period = float(m.group(1)), float(m.group(2)), float(m.group(3))
    if period <= 0:
        raise BoardError("quantity %r: the period must be > 0" % text)
    return "%s..%s/%ss" % (lo, hi, period)


def parse_chip(text):
    """`CHIP@ADDR[:QUANTITY=VALUE,...]` -> (chip, address, {quantity: value})."""
    head, _, rest = text.partition(":")
    chip, at, addr = head.partition("@")
    chip = chip.strip().lower()
    if chip not in CHIPS:
        raise BoardError("chip %r: known chips are %s" % (chip, ", ".join(CHIPS)))
    if not at:
        raise BoardError("chip %r: give its address, e.g. %s@0x18" % (text, chip))
    try:
        address = int(addr, 0)
    except ValueError:
        raise BoardError("chip %r: bad I2C address %r" % (text, addr)) from None
    if not 0x08 <= address <= 0x77:
        raise BoardError("chip %r: I2C address out of range 0x08..0x77" % text)
    values = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        name, eq, value = part.partition("=")
        if not eq:
            raise BoardError("chip %r: %r is not QUANTITY=VALUE" % (text, part))
        values[name.strip()] = parse_quantity(value)
    return chip, address, values



def drift_value(spec, t):
    """Value of a quantity at UNIX time t: a number, or a smooth cycle between
    LOW and HIGH (LOW at t % PERIOD == 0, HIGH half a period later)."""
    if not isinstance(spec, str):
        return spec
    m = _DRIFT_RE.match(spec)
    lo, hi, period = float(m.group(1)), float(m.group(2)), float(m.group(3))
    return lo + (hi - lo) * (1 - math.cos(2 * math.pi * (t % period) / period)) / 2

