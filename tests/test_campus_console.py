"""The demo's live view (campus/console.py): a table redrawn in place on a terminal,
one plain line per reading otherwise."""
from campus.console import Console

DEVICES = [{"name": "board-1", "mac": "02:DE:A0:00:01:01", "kind": "neosensor", "where": "U4 / Salle 302"},
           {"name": "pi-1", "mac": "02:DE:A0:00:02:01", "kind": "pi", "where": "U4 / Hall"}]


def reading(module, value, seq, units="celsius"):
    return {"module": module, "value": value, "value_units": units, "seq": seq, "received_at": 1765000000.0,
            "topic": "u4/salle_302/" + module}


def test_on_a_terminal_the_table_is_redrawn_over_itself():
    out = []
    c = Console(DEVICES, out.append, tty=True)
    c.feed("02:DE:A0:00:01:01", reading("temperature", 21.375, 0))
    assert out == []  # no line per reading on a terminal
    c.show({"02:DE:A0:00:01:01": {"received": 1, "missing": 0}}, 1.0)
    first = out[-1]
    assert "\x1b" not in first and first.count("\n") == 3  # header, two devices, the footer
    assert "temp 21.4" in first.splitlines()[1] and first.splitlines()[1].split()[6:8] == ["1", "0"]
    c.feed("02:DE:A0:00:01:01", reading("humidity", 44, 1, "%r.H."))
    c.show({"02:DE:A0:00:01:01": {"received": 2, "missing": 1}}, 2.0)
    again = out[-1]
    # Back up over the four lines drawn (the cursor is below them), clear, draw again.
    assert again.startswith("\x1b[4F\x1b[J")
    row = again.splitlines()[1]
    assert "hum 44" in row and "temp 21.4" in row and row.split()[6:8] == ["2", "1"]


def test_without_a_terminal_each_reading_is_one_plain_line():
    out = []
    c = Console(DEVICES, out.append, tty=False)
    c.feed("02:DE:A0:00:01:01", reading("temperature", 21.375, 7))
    c.show({}, 1.0)
    assert len(out) == 1 and "\x1b" not in out[0]
    assert out[0].split()[1:] == ["board-1", "u4/salle_302", "temperature", "21.4", "celsius", "seq", "7"]
