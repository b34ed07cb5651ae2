"""How `neoc board scan` and `neoc agent scan` show a report: a table (or
one JSON object), once or refreshed every second (--watch: redrawn in place
on a terminal, one report after another in a pipe or a log)."""
import json
import sys
import time

from drivers.wiring.explain import table


def render(report, as_json):
    if as_json:
        return json.dumps(report, sort_keys=True)
    return table(report, report.get("header"))


def show(sample, as_json=False, watch=False, count=None, every=1.0, out=None):
    """sample() -> a report (explain()'s dict plus "header"); printed once, or
    `count` times (None: until Ctrl-C) with --watch. Returns the last report."""
    out = out or sys.stdout
    tty = out.isatty() and not as_json
    n = 0
    report = None
    try:
        while True:
            t0 = time.monotonic()
            report = sample()
            text = render(report, as_json)
            if watch and tty:
                # Home, clear to the end: the table stays in place and its values move.
                out.write("\x1b[H\x1b[J" + text + "\n\n(every %gs; Ctrl-C to stop)\n" % every)
            else:
                out.write(text + "\n" + ("\n" if watch and not as_json else ""))
            out.flush()
            n += 1
            if not watch or (count is not None and n >= count):
                return report
            time.sleep(max(0.0, every - (time.monotonic() - t0)))
    except KeyboardInterrupt:
        return report
