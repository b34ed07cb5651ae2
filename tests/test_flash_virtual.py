"""`neoc flash` against blank virtual boards over their REPL socket, with the
real mpremote transport: blank board to readings in the stub (both deploys),
incremental re-flashes counted in bytes on the link, and cuts of the link at
ten byte positions that leave the old firmware booting."""
import hashlib
import json
import random
import subprocess
import sys
import time

import pytest

from harness import ROOT, need, wait_until
from support.cut_proxy import CutProxy
from toolchain import micropython as upy
from toolchain.board_link import Link, LinkError, board_source
from toolchain.firmware import revision
from toolchain.flashing import config_bytes, flash, owned
from virtual_board import VirtualBoard

pytestmark = [pytest.mark.slow, pytest.mark.micropython]

WIFI = ("lab", "secret")


@pytest.fixture(autouse=True)
def _vm():
    if upy.unavailable_reason():
        need(upy.unavailable_reason())


def blank_board(mac, tmp_path, **kw):
    b = VirtualBoard(mac, blank=True, repl="socket://127.0.0.1:0", flash_dir=tmp_path / "flash", wifi=WIFI,
                     echo=False, **kw)
    b.start()
    b.wait_for(r'Type "help\(\)"', 30)   # at its REPL: a blank board has no main.py
    return b


def url(board):
    return "socket://%s:%d" % board.repl


def neoc_flash(port, *args, env=None):
    return subprocess.run([sys.executable, "-m", "neoc", "flash", port, *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120, env=env)


def on_flash(board, code_only=False):
    """{path: sha256} of the board's flash folder, the stage folder left out;
    code_only: the firmware's code and config only, not the state files a
    booted firmware writes."""
    root = board.flash
    names = owned() | {"config.json"}
    return {"/" + p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and ".stage" not in p.parts
            and (not code_only or p.relative_to(root).parts[0] in names)}


def flash_in_process(port, mode, config=None):
    link = Link(port)
    try:
        link.open()
        result = flash(link, mode=mode, config=config)
    finally:
        link.close()
    return link, result


@pytest.mark.parametrize("mode,mac", [("romfs", "aa:bb:cc:00:15:01"), ("mpy", "aa:bb:cc:00:15:02")])
def test_a_blank_board_is_registered_flashed_and_publishes(stub, tmp_path, mode, mac):
    board = blank_board(mac, tmp_path, chips=["mcp9808@0x18:temperature=21.75"],
                        heap="45k" if mode == "romfs" else "160k")
    try:
        out = neoc_flash(url(board), "--register", "--location", "U4/302", "--module", "temperature:30",
                         "--wifi", "%s:%s" % WIFI, "--server", stub.url, "--token", stub.token, "--deploy", mode)
        assert out.returncode == 0, out.stdout + out.stderr
        text = out.stdout + out.stderr
        assert "registered %s at U4/302: added" % mac in text
        assert "flashed %s (esp8266, deploy %s)" % (mac, mode) in text
        assert "\r" not in out.stdout and "sent " in out.stdout     # no terminal: plain progress lines
        assert WIFI[1] not in text                                   # the password is never shown
        board.wait_boots(2, 20)
        assert board.boots[1] == "soft"                              # the flash ended in a soft reset
        rows = wait_until(lambda: [r for r in stub.admin.readings(topic="u4/302", unit="auto_1501"
                                                                 if mode == "romfs" else "auto_1502")
                                   if r["module"] == "temperature"], 90, "a temperature reading from the board")
        assert rows[0]["value"] == 21.75
        if mode == "romfs":   # its own status message, as neoc fleet status shows it
            from click.testing import CliRunner
            from provisioning.fleet import fleet

            def status():
                res = CliRunner().invoke(fleet, ["status", "--json", "--server", stub.url, "--token", stub.token])
                row = [r for r in json.loads(res.output) if r["mac"] == mac.upper()][0]
                return row if row["firmware"] else None
            row = wait_until(status, 30, "the board's device status in neoc fleet status")
            assert row["topic"] == "u4/302" and row["heap"] > 0 and row["dropped"] == 0
        assert (board.flash / "romfs.img").exists() == (mode == "romfs")
        assert (board.flash / "neosensor" / "app.mpy").exists() == (mode == "mpy")
        info = subprocess.run([sys.executable, "-m", "neoc", "board", "info", url(board), "--json"], cwd=ROOT,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        assert info.returncode == 0, info.stdout + info.stderr
        got = json.loads(info.stdout)
        assert got["mac"] == mac and got["board"] == "esp8266" and got["deploy"] == mode
        assert got["firmware"] == revision() and got["heap_free"] > 0 and got["flash_free"] > 0
        assert got["config"]["wifi"] == [{"ssid": WIFI[0], "password": "********"}]
        assert WIFI[1] not in info.stdout
    finally:
        board.stop()


def test_reflash_sends_only_what_changed_and_removes_what_left(tmp_path):
    board = blank_board("aa:bb:cc:00:15:03", tmp_path)
    port = url(board)
    config = lambda kind: config_bytes("http://127.0.0.1:9", WIFI, board=kind)  # noqa: E731
    try:
        link, result = flash_in_process(port, "mpy", config)
        assert result["switched"] and link.content == result["plan"].bytes > 40000
        before = on_flash(board)
        assert "/neosensor/stage.mpy" in before and "/lib/drivers/mcp9808.mpy" in before
        assert not any("/sim/" in p for p in before)

        link, result = flash_in_process(port, "mpy", config)          # unchanged
        assert not result["switched"] and link.content == 0 and result["plan"].send == []
        assert link.sent < len(board_source()) + 2000                # the stage code and a few short scripts
        assert on_flash(board) == before

        ids = board.flash / "lib" / "neocampus" / "ids.mpy"          # one file differs
        ids.write_bytes(b"an older build")
        (board.flash / "neosensor" / "gone.mpy").write_bytes(b"a module that left the manifest")
        (board.flash / "lib" / "drivers" / "sim").mkdir()
        (board.flash / "lib" / "drivers" / "sim" / "old.mpy").write_bytes(b"x")
        (board.flash / "sensocampus.json").write_text('{"mqtt_passwd": "kept"}')   # the firmware's own state
        link, result = flash_in_process(port, "mpy", config)
        assert [p for p, _, _ in result["plan"].send] == ["/lib/neocampus/ids.mpy"]
        assert link.content == ids.stat().st_size
        assert sorted(result["plan"].remove) == ["/lib/drivers/sim/old.mpy", "/neosensor/gone.mpy"]
        after = on_flash(board)
        assert after == dict(before, **{"/sensocampus.json": after["/sensocampus.json"]})
        assert not (board.flash / "lib" / "drivers" / "sim").exists()

        link, result = flash_in_process(port, "romfs", None)          # to the other deploy, config kept
        now = on_flash(board)
        assert set(now) == {"/boot.py", "/main.py", "/romfs.img", "/firmware.json", "/config.json",
                            "/sensocampus.json"}
        assert now["/config.json"] == before["/config.json"]
    finally:
        board.stop()


def test_a_link_cut_at_any_byte_leaves_the_old_firmware_booting_and_the_next_flash_finishes(tmp_path):
    board = blank_board("aa:bb:cc:00:15:04", tmp_path, heap="160k")
    port = url(board)
    old_cfg = lambda kind: config_bytes("http://127.0.0.1:9", WIFI, board=kind)           # noqa: E731
    new_cfg = lambda kind: config_bytes("http://127.0.0.1:8", WIFI, board=kind)           # noqa: E731
    try:
        flash_in_process(port, "mpy", old_cfg)
        old = on_flash(board)
        link, _ = flash_in_process(port, "romfs", new_cfg)
        new = on_flash(board)
        total = link.sent                 # bytes over the link of the flash to be cut
        link, _ = flash_in_process(port, "mpy", old_cfg)
        total = min(total, link.sent)
        rng = random.Random(15)
        cuts = sorted(rng.randrange(100, total - 100) for _ in range(10))
        # Each round cuts the flash to the other firmware: mpy -> romfs, then romfs -> mpy, ...
        there = ("mpy", old_cfg, old)
        other = ("romfs", new_cfg, new)
        for n, at in enumerate(cuts):
            proxy = CutProxy(board.repl, at)
            if n == 0:   # once as a user meets it: the command says what to do
                out = neoc_flash(proxy.url, "--deploy", "romfs", "--wifi", "%s:%s" % WIFI,
                                 "--server", "http://127.0.0.1:8")
                assert out.returncode == 1 and "Run the same command again" in out.stderr, out.stderr
            else:
                with pytest.raises(LinkError):
                    flash_in_process(proxy.url, other[0], other[1])
            assert proxy.cut.wait(10)
            assert on_flash(board, True) == there[2], "cut at byte %d of %d changed the firmware in place" % (
                at, total)
            time.sleep(0.3)   # the runner drops the cut client before it takes the next
            boots, seen = len(board.boots), len(board.lines)
            link = Link(port)
            link.open()
            link.reset()
            link.close()
            i, _ = board.wait_for(r"^--- boot %d " % (boots + 1), 20, start=seen)
            board.wait_for(r"^wifi: connected to lab", 30, start=i)     # the old firmware booted
            flash_in_process(port, other[0], other[1])
            assert on_flash(board, True) == other[2], "the flash after the cut at byte %d did not finish" % at
            assert not (board.flash / ".stage").exists()
            there, other = other, there
    finally:
        board.stop()
