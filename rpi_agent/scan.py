"""`neoc agent scan`: is it wired right? The Pi's I2C bus surveyed by the
firmware's own identification (drivers.survey over drivers.scan, through
smbus2), each chip read once, and the problems in plain words
(drivers/wiring/explain.py). A Pi cannot read its I2C lines (the kernel owns
GPIO2/3) nor scan with them swapped: a board can (`neoc board scan`)."""
from drivers import survey
from drivers.wiring.explain import explain


class Scanner:
    """One bus, its drivers kept between samples (--watch reads, it does not
    identify again)."""

    def __init__(self, hw, bus):
        self.hw, self.bus, self.known = hw, bus, {}

    def sample(self):
        head = "i2c bus %d%s" % (self.bus, " (simulated)" if self.hw.simulated else "")
        if self.hw.smbus is None:
            return {"header": head + ": no I2C bus opened", "rows": [], "problems": [], "facts": None}
        facts = survey.survey(self.hw.smbus, known=self.known)
        report = explain(facts, "pi")
        report["facts"] = facts
        found = sum(1 for r in report["rows"] if r["chip"] != "?")
        report["header"] = "%s: %d chip(s) identified, %d unknown address(es)" % (head, found,
                                                                                 len(report["rows"]) - found)
        return report


def report(hw, bus):
    """The report as text (one sample)."""
    from drivers.wiring.show import render
    return render(Scanner(hw, bus).sample(), False)
