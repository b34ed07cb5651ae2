"""The guide's wiring pictures (docs/wiring/, drawn by tools/gen_wiring.py
from drivers/wiring/table.py): what is checked in is what the table draws
now; each is valid SVG with every pin of the table and the four wires; each
renders to a PNG in headless Chromium without an error; and the table's
I2C pins are the firmware's own (firmware/neosensor/setup.py PINS)."""
import struct
import sys
import xml.etree.ElementTree as ET

import pytest

from harness import ROOT
from support.chromium import browser  # noqa: F401 (the fixture)
from drivers.wiring.table import BOARDS, BREAKOUTS, WIRES
from toolchain.firmware import FIRMWARE, literal

sys.path.insert(0, str(ROOT / "tools"))
import gen_wiring as gen  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def test_the_pictures_and_their_page_are_what_the_table_draws():
    files = gen.generate()
    assert len([p for p in files if p.suffix == ".svg"]) == len(BOARDS) * len(BREAKOUTS)
    stale = [str(p.relative_to(ROOT)) for p, text in files.items() if not p.exists() or p.read_text() != text]
    assert not stale, "stale or missing: %s: run %s and commit the result" % (", ".join(stale), gen.COMMAND)
    assert sorted(gen.OUT.glob("*.svg")) == sorted(p for p in files if p.suffix == ".svg")
    assert gen.main(["--check"]) == 0


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_each_picture_is_valid_svg_with_every_pin_of_the_table_and_four_wires(board):
    for chip, brk in BREAKOUTS.items():
        root = ET.fromstring(gen.svg(board, chip))        # a parse error fails here
        assert root.tag == SVG + "svg"
        drawn = {g.get("id"): [t.text for t in g.iter(SVG + "text")]
                 for g in root.iter(SVG + "g") if g.get("class") == "pin"}
        want = {"board-%d-%d" % (c, r): label for c, col in enumerate(BOARDS[board]["header"])
                for r, label in enumerate(col)}
        want.update({"breakout-%d" % i: p for i, p in enumerate(brk["pins"])})
        assert set(drawn) == set(want), (board, chip)
        for pid, label in want.items():
            assert label in drawn[pid], (board, chip, pid)
        wires = {w.get("data-role"): w.get("stroke") for w in root.iter(SVG + "polyline")}
        assert wires == dict(WIRES), (board, chip)


def test_the_tables_i2c_pins_are_the_firmwares():
    pins = literal(FIRMWARE / "neosensor" / "setup.py", "PINS")
    for key, b in BOARDS.items():
        if b["mcu"] in pins:
            assert (b["gpio"]["SDA"], b["gpio"]["SCL"]) == tuple(pins[b["mcu"]]), key
        labels = {role: b["header"][c][r] for role, (c, r) in b["i2c"].items()}
        assert labels["3V3"] == "3V3" and labels["GND"] == "GND", key


@pytest.mark.slow
def test_every_picture_renders_to_png_in_chromium(browser, tmp_path):
    errors = []
    page = browser.new_page()
    try:
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        for svg in sorted(gen.OUT.glob("*.svg")):
            page.set_content("<html><body style='margin:0'>%s</body></html>" % svg.read_text())
            box = page.locator("svg").bounding_box()
            png = page.locator("svg").screenshot(path=str(tmp_path / (svg.stem + ".png")))
            assert png[:8] == b"\x89PNG\r\n\x1a\n", svg.name
            w, h = struct.unpack(">II", png[16:24])
            assert (w, h) == (round(box["width"]), round(box["height"])) and w > 400 and h > 300, svg.name
    finally:
        page.close()
    assert errors == []
