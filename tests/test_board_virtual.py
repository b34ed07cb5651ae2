"""The virtual board: real MicroPython unix port, fakes of machine/network,
simulated chips in the runner, watchdog and resets, REPL for mpremote."""
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from harness import ROOT, need
from toolchain import micropython as upy
from toolchain.mpy import compile_tree
from virtual_board.cli import board as board_cli
from provisioning.mosquitto import free_port
from virtual_board import BoardError, VirtualBoard, drift_value, parse_chip, parse_quantity

MAC = "aa:bb:cc:dd:ee:ff"

READ_LOOP = """
import time, machine
from drivers.mcp9808 import MCP9808
i2c = machine.SoftI2C(scl=machine.Pin(12), sda=machine.Pin(14))
print("scan", i2c.scan())
t = MCP9808(i2c, 0x18)
while True:
    print("temp %.4f" % t.read()["temperature"])
    time.sleep_ms(300)
"""


@pytest.fixture
def flash(tmp_path):
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    d = tmp_path / "flash"
    compile_tree(ROOT / "drivers", d / "lib" / "drivers", exclude=("sim/*",))
    return d


def _board(flash, **kw):
    kw.setdefault("wifi", ("lab", "pw"))
    return VirtualBoard(MAC, flash_dir=flash, blank=True, heap="64k", **kw)


def test_parse_chip_and_quantities():
    assert parse_chip("MCP9808@0x18:temperature=21.5") == ("mcp9808", 0x18, {"temperature": 21.5})
    chip, addr, values = parse_chip("tsl2561@57:lux=100..900/60s")
    assert (chip, addr) == ("tsl2561", 57) and values == {"lux": "100.0..900.0/60.0s"}
    for bad, msg in (("foo@0x18", "known chips"), ("mcp9808", "address"), ("mcp9808@0x99", "range"),
                     ("mcp9808@0x18:temperature", "QUANTITY=VALUE"), ("mcp9808@0x18:t=hot", "number")):
        with pytest.raises(BoardError, match=msg):
            parse_chip(bad)
    with pytest.raises(BoardError):
        parse_quantity("19..24/0s")


def test_drift_is_a_smooth_cycle_between_low_and_high():
    spec = parse_quantity("19..24/600s")
    assert drift_value(spec, 0) == pytest.approx(19)
    assert drift_value(spec, 300) == pytest.approx(24)
    assert drift_value(spec, 150) == pytest.approx(21.5)
    values = [drift_value(spec, t) for t in range(0, 600, 10)]
    assert max(abs(a - b) for a, b in zip(values, values[1:])) < 0.3  # smooth
    assert drift_value(21.5, 1234) == 21.5


def test_main_reads_a_simulated_mcp9808_through_machine_i2c_and_follows_changes(flash):
    (flash / "main.py").write_text(READ_LOOP)
    b = _board(flash, chips=["mcp9808@0x18:temperature=21.5"], echo=False)
    with b:
        b.wait_for(r"^scan \[24\]$", 20)
        b.wait_for(r"^temp 21\.5000$", 10)
        b.set(0x18, temperature=-3.25)
        b.wait_for(r"^temp -3\.2500$", 10)


def test_chips_answer_only_on_the_boards_i2c_pins(flash):
    (flash / "main.py").write_text(
        "import machine\nprint('pins', machine.SoftI2C(scl=machine.Pin(22), sda=machine.Pin(21)).scan())\n"
        "print('right', machine.SoftI2C(scl=machine.Pin(22), sda=machine.Pin(21)).scan())\n")
    with _board(flash, chips=["mcp9808@0x18"], board="esp32", echo=False) as b:
        b.wait_for(r"^right \[24\]$", 20)
    with _board(flash, chips=["mcp9808@0x18"], board="esp8266", echo=False) as b:
        b.wait_for(r"^right \[\]$", 20)


def test_watchdog_reset_and_deepsleep_reboot_the_board(flash):
    (flash / "main.py").write_text("""
import machine, time
cause = machine.reset_cause()
print("cause", cause)
if cause == machine.PWRON_RESET:
    w = machine.WDT(timeout=500)
    for i in range(3):
        w.feed(); time.sleep_ms(200)
    print("fed 3 times")
    while True:
        pass   # hung: no more feeds
elif cause == machine.WDT_RESET:
    machine.reset()
elif cause == machine.HARD_RESET:
    machine.deepsleep(700)
else:
    print("done", cause == machine.DEEPSLEEP_RESET)
""")
    with _board(flash, echo=False) as b:
        b.wait_for(r"^done True$", 30)
        assert b.boots[:4] == ["power", "wdt", "reset", "deepsleep"]
        k = b.lines.index("--- boot 4 (deepsleep) heap 64k")
        assert b.times[k] - b.times[k - 1] >= 0.7  # asleep for the time asked
        i, _ = b.wait_for(r"^fed 3 times$", 1)
        j, _ = b.wait_for(r"watchdog: no feed", 1)
        # last feed 200 ms before the print, timeout 500 ms
        assert 0.2 <= b.times[j] - b.times[i] < 1.5


def test_wifi_fake_joins_known_networks_and_fails_on_demand(flash):
    (flash / "main.py").write_text("""
import network, time
w = network.WLAN(network.STA_IF); w.active(True)
w.connect("lab", "wrong"); time.sleep_ms(400); print("wrong", w.status() == network.STAT_WRONG_PASSWORD)
w.connect("lab", "pw")
while not w.isconnected(): time.sleep_ms(50)
print("mac", w.config("mac").hex(), w.ifconfig()[0])
while w.isconnected(): time.sleep_ms(50)
print("dropped")
""")
    with _board(flash, echo=False) as b:
        b.wait_for(r"^wrong True$", 20)
        b.wait_for(r"^mac aabbccddeeff 127\.0\.0\.1$", 10)
        b.set_wifi("down")
        b.wait_for(r"^dropped$", 10)


def test_mpremote_resume_exec_talks_to_the_running_board(flash):
    port = free_port()
    (flash / "main.py").write_text("import time\nprint('running')\nwhile True:\n    time.sleep_ms(100)\n")
    with _board(flash, repl="socket://127.0.0.1:%d" % port, echo=False) as b:
        b.wait_for(r"^running$", 20)
        mpremote = [sys.executable, "-m", "mpremote"]
        out = subprocess.run(mpremote + ["connect", "socket://127.0.0.1:%d" % port, "resume", "exec",
                                         "print(1+1)"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "2"


def test_cli_help_and_bad_chip():
    runner = CliRunner()
    res = runner.invoke(board_cli, ["run", "--help"])
    assert res.exit_code == 0
    for opt in ("--mac", "--server", "--wifi", "--flash-dir", "--chip", "--heap", "--repl", "--blank", "--deploy"):
        assert opt in res.output
    res = runner.invoke(board_cli, ["run", "--mac", MAC, "--chip", "nope@0x18"])
    assert res.exit_code == 2 and "known chips" in res.output


def test_cli_runs_a_board_and_takes_values_on_stdin(flash):
    (flash / "main.py").write_text(READ_LOOP)
    proc = subprocess.Popen([sys.executable, "-m", "neoc", "board", "run", "--mac", MAC, "--blank",
                             "--flash-dir", str(flash), "--heap", "64k",
                             "--chip", "mcp9808@0x18:temperature=21.5"],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    seen = []
    try:
        def until(pattern, timeout=20):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                seen.append(line)
                if pattern in line:
                    return line
            raise AssertionError("no %r in:\n%s" % (pattern, "".join(seen)))
        assert until("temp 21.5000").startswith("[board eeff] ")
        proc.stdin.write("set 0x18 temperature=30\n")
        proc.stdin.flush()
        until("temp 30.0000")
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_flash_is_the_root_and_rtc_memory_survives_a_reset(flash):
    (flash / "main.py").write_text("""
import machine, os, sys
print("path", sys.path, os.getcwd())
if machine.reset_cause() == machine.PWRON_RESET:
    with open("/note.txt", "w") as f:
        f.write("on the flash")
    machine.RTC().memory(b"kept")
    machine.reset()
print("rtc", machine.RTC().memory(), open("/note.txt").read(), sorted(os.listdir("/")))
""")
    with _board(flash, echo=False) as b:
        b.wait_for(r"^rtc b'kept' on the flash \['lib', 'main.py', 'note.txt'\]$", 20)
        b.wait_for(r"^path \['', '.frozen', '/lib'\] /$", 1)
    assert (flash / "note.txt").read_text() == "on the flash"


def test_mpremote_fs_on_a_blank_board_writes_into_the_flash_folder(flash, tmp_path):
    """What a flashing tool does over the console: mkdir, cp (absolute and
    relative remote paths), import what it copied."""
    port = free_port()
    src = tmp_path / "x.py"
    src.write_text("print('hello from lib')\n")
    with _board(flash, repl="socket://127.0.0.1:%d" % port, echo=False) as b:
        b.wait_for(r"Type \"help\(\)\"", 20)
        mp = [sys.executable, "-m", "mpremote", "connect", "socket://127.0.0.1:%d" % port, "resume"]
        for args in (["fs", "mkdir", ":/conf"], ["fs", "cp", str(src), ":/lib/x.py"],
                     ["fs", "cp", str(src), ":conf/y.py"], ["exec", "import x"]):
            out = subprocess.run(mp + args, capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, (args, out.stderr)
        assert out.stdout.strip() == "hello from lib"
    assert (flash / "lib" / "x.py").read_text() == src.read_text()
    assert (flash / "conf" / "y.py").read_text() == src.read_text()


ROMFS_MAIN = """
import gc, sys
gc.collect()
print("free", gc.mem_free())
lo, hi = 0, gc.mem_free()
while hi - lo > 64:  # the biggest block that can be had
    n = (lo + hi) // 2
    try:
        bytearray(n)
        lo = n
    except MemoryError:
        hi = n
    gc.collect()
print("biggest block", lo)
from neosensor import store
print("from", store.__file__)
print("path", sys.path)
"""


def test_romfs_deploy_runs_the_code_in_place_with_exactly_the_heap_asked_for(tmp_path):
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    from toolchain.deploy import deploy
    flash = tmp_path / "flash"
    deploy(flash, mode="romfs")
    assert (flash / "romfs.img").stat().st_size > 20000 and not (flash / "neosensor").exists()
    (flash / "main.py").write_text(ROMFS_MAIN)
    with VirtualBoard(MAC, flash_dir=flash, blank=True, heap="40k") as b:
        _, note = b.wait_for(r"^--- heap 40k for the firmware \((\d+) B free at boot\.py.* \+ (\d+) B image buffers", 30)
        _, free = b.wait_for(r"^free (\d+)$", 30)
        _, block = b.wait_for(r"^biggest block (\d+)$", 5)
        b.wait_for(r"^from /rom/neosensor/store\.mpy$", 5)
        b.wait_for(r"^path \['', '\.frozen', '/rom', '/lib'\]$", 5)
    bare = int(upy.run(code="import gc\ngc.collect()\nprint(gc.mem_free())", heap="40k").stdout)
    assert int(note.group(1)) - bare in range(-256, 257)
    assert int(note.group(2)) > (flash / "romfs.img").stat().st_size
    # main.py finds a bare VM's free heap, less what compiling boot.py and
    # main.py took: neither the image buffers nor the fakes are charged to it.
    assert 0 <= bare - int(free.group(1)) < 2048, (bare, free.group(1))
    # ...and in one piece: only main.py's own compiled code splits it (35.8 of
    # 38.5 KB measured; with the fakes strewn through the heap it was 32.9 KB).
    assert int(free.group(1)) - int(block.group(1)) < 3072, (block.group(1), free.group(1))
