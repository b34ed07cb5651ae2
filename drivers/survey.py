"""Is it wired right? The raw facts, gathered on the bus itself (a board over
its REPL, a Pi through smbus2, a SimBus in tests) for drivers/wiring/ to
put into plain words on a PC.

    from drivers import survey
    facts = survey.survey(i2c)        # a dict of lists, ints and strings (JSON)

Three scans (a chip that answers in some and not others has a loose wire),
then each address that answered is identified by drivers.scan.probe (the
firmware's own identification: the rejected candidates' reasons are kept)
and read; a read that fails is tried again, up to three times, so a
failure every time can be told from one now and then. `known` keeps the
drivers between calls (`neoc board scan --watch`): a chip is identified
once, then only read.

lines() reads the two lines as plain inputs, without and with the MCU's
pull-up, and swapped() scans with SDA and SCL exchanged: only a board,
which owns its pins, can do either (a Pi's kernel owns GPIO2/3).
"""
from drivers import SensorError
from drivers.scan import addresses, probe


def listen(bus, rounds=3):
    """([addresses that answered, per scan], the scan's error or None)."""
    scans = []
    for _ in range(rounds):
        try:
            scans.append(addresses(bus))
        except SensorError as e:
            return scans, str(e)
        if len(scans[-1]) > 100:
            break   # SDA held low: every ACK bit reads 0, scanning again says nothing new
    return scans, None


def measure(driver, tries=3):
    """[outcome of each read]: a {quantity: value} dict, or the error's text.
    Stops at the first good read."""
    out = []
    for _ in range(tries):
        try:
            out.append(driver.read())
            break
        except SensorError as e:
            out.append(str(e))
    return out


def survey(bus, rounds=3, tries=3, known=None, heard=None):
    """The facts; heard: listen()'s result when the scans were done already."""
    scans, error = heard if heard is not None else listen(bus, rounds)
    if known is None:
        known = {}
    # More than 100 addresses answering is SDA held low: nothing to identify there.
    if scans and len(scans[-1]) > 100:
        known.clear()
        return {"scans": scans, "error": error, "chips": [], "unknown": []}
    seen = {}
    for found in scans:
        for a in found:
            seen[a] = seen.get(a, 0) + 1
    for a in list(known):
        if a not in seen:
            del known[a]   # gone: identified afresh when it comes back
    chips, unknown = [], []
    for a in sorted(seen):
        d = known.get(a)
        if d is None:
            why = []
            d = probe(bus, a, why)
            if d is None:
                unknown.append([a, "; ".join(why)])
                continue
            known[a] = d
        chips.append({"address": a, "chip": d.CHIP, "reads": measure(d, tries)})
    return {"scans": scans, "error": error, "chips": chips, "unknown": unknown}


def lines(Pin, sda, scl):
    """{"sda": [level floating, level with the pull-up], "scl": [...]} of a
    board's I2C pins read as inputs (Pin: machine.Pin)."""
    out = {}
    for name, n in (("sda", sda), ("scl", scl)):
        out[name] = [Pin(n, Pin.IN, None).value(), Pin(n, Pin.IN, Pin.PULL_UP).value()]
    return out


def swapped(I2C, Pin, sda, scl):
    """Addresses that answer with SDA and SCL exchanged (I2C: machine.SoftI2C)."""
    try:
        return I2C(scl=Pin(sda), sda=Pin(scl)).scan()
    except OSError:
        return []
