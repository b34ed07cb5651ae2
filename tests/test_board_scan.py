"""`neoc board scan` on virtual boards, over the flashing tool's link (real
mpremote transport, socket://): a blank board (MicroPython only) whose
flash is the same, file for file and hash for hash, after the scan; every
wiring fault the virtual board models named in its words (chip faults all
at once on one bus, line faults one after another in one session); and
--watch on a board whose firmware runs, which boots again afterwards."""
import hashlib
import json
import subprocess
import sys

import pytest

from harness import ROOT, need
from provisioning.board_scan import BoardScan
from toolchain import micropython as upy
from toolchain.board_link import Link
from virtual_board import VirtualBoard

pytestmark = [pytest.mark.micropython]

CHIPS = ["mcp9808@0x18:temperature=21.5",
         "mcp9808@0x1a:temperature=150",            # reads past what its driver takes
         "sht3x@0x19",                              # at an MCP9808 address, is not one
         "mcp9808@0x3c",                            # at an address no driver knows
         "sht3x@0x44:temperature=20,humidity=40",   # on a loose wire (--wiring loose@0x44)
         "sht3x@0x45:temperature=19", "sht3x@0x45:temperature=27"]   # two breakouts at one address


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    flash = tmp_path_factory.mktemp("flash")
    # What a student's board may hold besides MicroPython: it must stay as it is.
    (flash / "lib").mkdir()
    (flash / "lib" / "mine.py").write_text("X = 1\n")
    (flash / "notes.txt").write_text("my board\n")
    b = VirtualBoard("aa:bb:cc:00:18:01", blank=True, repl="socket://127.0.0.1:0", flash_dir=flash, echo=False,
                     chips=CHIPS, wiring=["loose@0x44"], heap="45k")
    b.start()
    b.wait_for(r'Type "help\(\)"', 30)
    yield b
    b.stop()


def url(board):
    return "socket://%s:%d" % board.repl


def listing(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def by_problem(report):
    return {p["problem"]: p["detail"] for p in report["problems"]}


def test_a_blank_board_is_scanned_from_ram_and_its_flash_left_as_it_was(board):
    before = listing(board.flash)
    out = subprocess.run([sys.executable, "-m", "neoc", "board", "scan", url(board), "--json"], cwd=ROOT,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr        # problems found: exit status 1
    assert listing(board.flash) == before and set(before) == {"lib/mine.py", "notes.txt"}
    report = json.loads(out.stdout)
    rows = {r["address"]: (r["chip"], r["status"], r["reading"]) for r in report["rows"]}
    assert rows == {0x18: ("MCP9808", "ok", "temperature 21.5 °C"), 0x19: ("?", "wrong identity", ""),
                    0x1A: ("MCP9808", "out of range", ""), 0x3C: ("?", "unknown chip", ""),
                    0x44: ("SHT3x", "ok", "humidity 40 %RH, temperature 20 °C"), 0x45: ("SHT3x", "two chips?", "")}
    problems = by_problem(report)
    assert problems["intermittent"].startswith("0x44 answered 2 of 3 scans: a loose wire or a bad contact")
    assert problems["identity does not match"].startswith(
        "0x19 answers, but it fails the identity check of every driver for that address: MCP9808@0x19: no ACK")
    assert problems["unknown chip"].startswith("0x3c answers, but no driver here knows that address (usual "
                                               "suspects at 0x3c:")
    assert "SSD1306 or SH1106 OLED display" in problems["unknown chip"]
    assert problems["reading out of range"].startswith(
        "MCP9808 at 0x1a reports an impossible value (MCP9808@0x1a: ambient register 0xc960 = 150 C is outside "
        "-40..125 C)")
    assert problems["two chips on one address"].startswith(
        "SHT3x at 0x45 identifies itself, but every reading fails its CRC check (3 of 3): most likely two chips "
        "answer at 0x45")
    assert report["header"].startswith(url(board) + " (esp8266, aa:bb:cc:00:18:01; SDA GPIO14, SCL GPIO12): "
                                       "4 chip(s) identified, 2 unknown address(es)")


FAULTS = {
    "swapped": ("SDA and SCL swapped", "SDA and SCL are swapped: the chips answer (0x18, 0x19, 0x1a, 0x3c, 0x44, "
                "0x45) only with the two lines exchanged. Exchange the two wires: SDA goes to D5 (GPIO14) and SCL to "
                "D6 (GPIO12) on the ESP8266 NodeMCU (v2/v3) or ESP8266 Wemos D1 mini."),
    "sda-low": ("SDA held low", "SDA stays low even with the board's pull-up on, so every address seems to "
                "answer: SDA touches GND, or a chip is stuck in the middle of a transfer"),
    "scl-low": ("SCL held low", "SCL stays low even with the board's pull-up on: SCL touches GND, or a chip "
                "holds the clock"),
    "no-pullup": ("no pull-up resistors", "Nothing answers, and SDA and SCL read low as soon as the board's own "
                  "weak pull-up is off: nothing pulls the bus up. Either no breakout is connected"),
}


def test_each_line_fault_is_named_in_one_session_and_the_bus_comes_back(board):
    link = Link(url(board))
    try:
        link.open()
        session = BoardScan(link)
        board.set_wiring("ok")               # the loose wire of the chip test off: the swapped scan hears all
        for fault, (problem, words) in FAULTS.items():
            board.set_wiring(fault)
            try:
                report = session.sample()
            finally:
                board.set_wiring("ok")
            assert [p["problem"] for p in report["problems"]] == [problem], fault
            assert report["problems"][0]["detail"].startswith(words), fault
            assert report["rows"] == []
        board.set_wiring("loose@0x44")
        report = session.sample()
        assert [r["address"] for r in report["rows"]] == [0x18, 0x19, 0x1A, 0x3C, 0x44, 0x45]
        # Nothing answers at all: the pins this board type expects.
        for a in (0x18, 0x19, 0x1A, 0x3C, 0x44, 0x45):
            board.hw.bus.inject(a, "nack", None)
        try:
            report = session.sample()
        finally:
            board.hw.bus.clear_faults()
        assert by_problem(report)["nothing on the bus"].startswith(
            "Nothing answers on the I2C bus. Check that the sensor has power (VIN or VCC to 3V3, GND to GND) and "
            "that SDA goes to D5 (GPIO14) and SCL to D6 (GPIO12) on the ESP8266 NodeMCU (v2/v3) or ESP8266 Wemos D1 "
            "mini.")
        assert session.sent < 30000          # the survey and the drivers it needed, as source
    finally:
        link.reset()
        link.close()


@pytest.mark.slow
def test_watch_on_a_board_whose_firmware_runs_then_it_boots_again(tmp_path):
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    b = VirtualBoard("aa:bb:cc:00:18:02", repl="socket://127.0.0.1:0", flash_dir=tmp_path / "flash", echo=False,
                     chips=["sht3x@0x44:temperature=20..30/4s,humidity=40"], server="http://127.0.0.1:9",
                     wifi=("lab", "secret"))
    try:
        b.start()
        b.wait_for(r"^i2c: SHT3x@0x44", 60)
        code = listing(b.flash)
        code = {p: h for p, h in code.items() if p in ("romfs.img", "boot.py", "main.py", "config.json")}
        out = subprocess.run([sys.executable, "-m", "neoc", "board", "scan", url(b), "--watch", "--count", "3",
                              "--json"], cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        reports = [json.loads(line) for line in out.stdout.splitlines()]
        temps = [r["facts"]["chips"][0]["reads"][-1]["temperature"] for r in reports]
        assert len(temps) == 3 and len(set(temps)) == 3, temps     # the value moves from one refresh to the next
        assert all(r["problems"] == [] for r in reports)
        b.wait_boots(2, 30)                                        # the firmware runs again
        assert {p: h for p, h in listing(b.flash).items() if p in code} == code
    finally:
        b.stop()
