"""The facts drivers/survey.py gathered, put into plain words: one row per
address (address, chip, status, reading with units) and the problems, each
with its likely cause and what to do.

    from drivers.wiring.explain import explain, table
    report = explain(facts, kind="esp8266")
    print(table(report))

facts: survey()'s dict, plus on a board "lines" (survey.lines()) and
"swapped" (survey.swapped(), asked only when nothing answers). kind: the
board type ("esp8266", "esp32", "pi") for the pins to name.
"""
from drivers.wiring.table import BOARDS, BREAKOUTS, KINDS, RANGES, SUSPECTS, UNITS, pin_name

LONG_WIRES = ("the data got garbled on the way: wires too long (keep them under 50 cm), loose breadboard "
              "contacts, or no pull-up resistors on SDA and SCL")


def _pins(kind):
    """"SDA to D5 (GPIO14) and SCL to D6 (GPIO12) on the ..." for a board type."""
    groups = {}
    for b in KINDS.get(kind, ()):
        groups.setdefault((pin_name(b, "SDA"), pin_name(b, "SCL")), []).append(BOARDS[b]["title"])
    if not groups:
        return "SDA and SCL go to the board's I2C pins"
    return "; ".join("SDA goes to %s and SCL to %s on the %s" % (sda, scl, " or ".join(titles))
                     for (sda, scl), titles in groups.items())


def _power(kind):
    boards = KINDS.get(kind)
    return pin_name(boards[0], "3V3") if boards else "3V3"


def _value(q, v):
    unit = UNITS.get(q, "")
    text = ("%.2f" % v).rstrip("0").rstrip(".") if isinstance(v, float) else str(v)
    return "%s %s%s" % (q, text, " " + unit if unit else "")


def _suspects(address):
    s = SUSPECTS.get(address)
    return ("usual suspects at 0x%02x: %s" % (address, "; ".join(s))) if s else "no common chip uses 0x%02x" % address


def _kind_of(error):
    """What a driver's error text says happened."""
    e = error.lower()
    if "crc" in e:
        return "crc"
    if "no ack" in e:
        return "nack"
    if "timeout" in e:
        return "timeout"
    if "out of" in e or "outside" in e or "overrange" in e or "saturated" in e:
        return "range"
    return "other"


def _problem(address, what, detail):
    return {"address": address, "problem": what, "detail": detail}


def explain(facts, kind=None):
    scans = facts.get("scans") or []
    rounds = len(scans)
    seen = {}
    for found in scans:
        for a in found:
            seen[a] = seen.get(a, 0) + 1
    lines = facts.get("lines")
    rows, problems = [], []
    power = _power(kind)

    def low(line):
        return lines is not None and lines[line][1] == 0

    # The bus itself first: when it is broken, nothing on it can be trusted.
    if low("sda") or len(seen) >= 100:
        problems.append(_problem(None, "SDA held low", "SDA stays low%s, so every address seems to answer: "
                                 "SDA touches GND, or a chip is stuck in the middle of a transfer (power it off "
                                 "and on again)." % (" even with the board's pull-up on" if low("sda") else "")))
        return {"rows": [], "problems": problems}
    if low("scl"):
        problems.append(_problem(None, "SCL held low", "SCL stays low even with the board's pull-up on: SCL "
                                 "touches GND, or a chip holds the clock (power it off and on again)."))
        return {"rows": [], "problems": problems}
    if lines is not None and not lines["sda"][0] and not lines["scl"][0] and not seen:
        problems.append(_problem(None, "no pull-up resistors", "Nothing answers, and SDA and SCL read low as soon "
                                 "as the board's own weak pull-up is off: nothing pulls the bus up. Either no "
                                 "breakout is connected (%s), or it has no pull-up resistors: add 4.7 kΩ from SDA "
                                 "to %s and from SCL to %s." % (_pins(kind), power, power)))
        return {"rows": [], "problems": problems}
    if facts.get("error"):
        problems.append(_problem(None, "bus error", "%s. A line is held low or a chip holds the clock: check "
                                 "that SDA and SCL touch nothing else, and power the chips off and on again."
                                 % facts["error"]))
        return {"rows": [], "problems": problems}
    if not seen:
        swapped = facts.get("swapped")
        if swapped:
            problems.append(_problem(None, "SDA and SCL swapped", "SDA and SCL are swapped: the chips answer "
                                     "(%s) only with the two lines exchanged. Exchange the two wires: %s."
                                     % (", ".join("0x%02x" % a for a in swapped), _pins(kind))))
        else:
            problems.append(_problem(None, "nothing on the bus", "Nothing answers on the I2C bus. Check that "
                                     "the sensor has power (VIN or VCC to %s, GND to GND) and that %s."
                                     % (power, _pins(kind))))
        return {"rows": [], "problems": problems}

    chips = {c["address"]: c for c in facts.get("chips") or ()}
    for a in sorted(seen):
        if 0 < seen[a] < rounds:
            problems.append(_problem(a, "intermittent", "0x%02x answered %d of %d scans: a loose wire or a bad "
                                     "contact (breadboard, jumper wire); press the wires in, or solder the "
                                     "header." % (a, seen[a], rounds)))
    for a, why in facts.get("unknown") or ():
        if not why:
            rows.append({"address": a, "chip": "?", "status": "unknown chip", "reading": ""})
            problems.append(_problem(a, "unknown chip", "0x%02x answers, but no driver here knows that address "
                                     "(%s)." % (a, _suspects(a))))
        elif "crc" in why.lower():
            rows.append({"address": a, "chip": "?", "status": "CRC error", "reading": ""})
            problems.append(_problem(a, "CRC failure", "0x%02x answers, but its identity read failed its CRC "
                                     "check: %s. (%s)" % (a, LONG_WIRES, why)))
        else:
            rows.append({"address": a, "chip": "?", "status": "wrong identity", "reading": ""})
            problems.append(_problem(a, "identity does not match", "0x%02x answers, but it fails the identity "
                                     "check of every driver for that address: %s. Another chip shares the address "
                                     "(%s)." % (a, why, _suspects(a))))
    for a in sorted(chips):
        c = chips[a]
        reads = c["reads"]
        good = [r for r in reads if isinstance(r, dict)]
        errors = [r for r in reads if not isinstance(r, dict)]
        status, reading = "ok", ""
        name = "%s at 0x%02x" % (c["chip"], a)
        if good:
            r = good[-1]
            reading = ", ".join(_value(q, r[q]) for q in sorted(r))
            odd = [q for q in sorted(r) if q in RANGES and not RANGES[q][0] <= r[q] <= RANGES[q][1]]
            if odd:
                status = "out of range"
                problems.append(_problem(a, "reading out of range", "%s reads %s: impossible in a room. A damaged "
                                         "chip, or another chip answering at its address." % (name, ", ".join(
                                             _value(q, r[q]) for q in odd))))
        kinds = [_kind_of(e) for e in errors]
        if errors and not good and all(k == "crc" for k in kinds) and len(errors) > 1:
            status = "two chips?"
            problems.append(_problem(a, "two chips on one address", "%s identifies itself, but every reading "
                                     "fails its CRC check (%d of %d): most likely two chips answer at 0x%02x "
                                     "(two breakouts with the same address: move one with its address pin; %s), "
                                     "else very long wires." % (name, len(errors), len(reads), a,
                                                                _address_help(c["chip"]))))
        elif "crc" in kinds:
            status = status if good else "CRC error"
            problems.append(_problem(a, "CRC failure", "%s: CRC failure in %d of %d reads: %s."
                                     % (name, kinds.count("crc"), len(reads), LONG_WIRES)))
        elif "range" in kinds:
            status = "out of range"
            problems.append(_problem(a, "reading out of range", "%s reports an impossible value (%s): a damaged "
                                     "chip, or another chip answering at its address." % (name, errors[-1])))
        elif "nack" in kinds or "timeout" in kinds:
            status = status if good else "stopped answering"
            problems.append(_problem(a, "stopped answering", "%s was identified, then did not answer a reading "
                                     "(%s): a loose wire, or a chip losing power (check %s and GND)."
                                     % (name, errors[-1], power)))
        elif errors:
            status = status if good else "read failed"
            problems.append(_problem(a, "read failed", "%s: %s" % (name, errors[-1])))
        rows.append({"address": a, "chip": c["chip"], "status": status, "reading": reading})
    rows.sort(key=lambda r: r["address"])
    return {"rows": rows, "problems": problems}


def _address_help(chip):
    b = BREAKOUTS.get(chip)
    return b["addresses"] if b else "see its datasheet"


def table(report, header=None):
    """The report as text: the table, then each problem in plain words."""
    out = [header] if header else []
    if report["rows"]:
        out.append("%-7s %-9s %-18s %s" % ("address", "chip", "status", "reading"))
        for r in report["rows"]:
            out.append("0x%02x    %-9s %-18s %s" % (r["address"], r["chip"], r["status"], r["reading"]))
    if report["problems"]:
        if report["rows"]:
            out.append("")
        for p in report["problems"]:
            out.append("problem: " + p["detail"])
    elif report["rows"]:
        out.append("")
        out.append("all good: wired right")
    return "\n".join(out)
