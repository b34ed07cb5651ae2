"""`neoc flash` options without a board (the esptool command line, port
discovery, the Wi-Fi password, refused combinations), then `--dry-run`,
`neoc board info` and `--erase` on one blank virtual board."""
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from harness import ROOT, need
from provisioning import flash as flash_cli
from toolchain import micropython as upy
from virtual_board import VirtualBoard


def invoke(*args, env=None):
    return CliRunner().invoke(flash_cli.flash, list(args), env=env)


def test_esptool_command_lines_erase_then_write_at_the_boards_offset(tmp_path):
    image = tmp_path / "ESP32_GENERIC-v1.29.bin"
    erase, write = flash_cli.esptool_commands("/dev/ttyUSB0", "esp32", image)
    assert erase[:3] == [sys.executable, "-m", "esptool"]
    assert erase[3:] == ["--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800", "erase-flash"]
    assert write[3:] == ["--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800", "write-flash",
                         "--flash-size", "detect", "0x1000", str(image)]
    assert flash_cli.esptool_commands("/dev/ttyUSB1", "esp8266", image)[1][-2:] == ["0x0", str(image)]
    # The installed esptool knows these commands and options.
    for cmd in (erase, write):
        out = subprocess.run(cmd[:3] + [cmd[9], "--help"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        for opt in cmd[10:-2]:
            if opt.startswith("--"):
                assert opt in out.stdout


def test_micropython_dry_run_prints_the_esptool_runs_and_needs_board_and_serial(tmp_path, monkeypatch):
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\xe9" + bytes(100))
    res = invoke("socket://127.0.0.1:1", "--micropython", str(image), "--board", "esp32")
    assert res.exit_code == 2 and "a serial port, not socket://" in res.output
    res = invoke("/dev/ttyUSB0", "--micropython", str(image))
    assert res.exit_code == 2 and "needs --board" in res.output
    seen = []
    monkeypatch.setattr(flash_cli, "_link", lambda port, baud: seen.append(port) or (_ for _ in ()).throw(
        SystemExit(0)))
    res = invoke("/dev/ttyUSB0", "--micropython", str(image), "--board", "esp8266", "--dry-run")
    assert res.output.splitlines() == [
        "$ esptool --chip esp8266 --port /dev/ttyUSB0 --baud 460800 erase-flash",
        "$ esptool --chip esp8266 --port /dev/ttyUSB0 --baud 460800 write-flash --flash-size detect 0x0 %s" % image]
    assert seen == ["/dev/ttyUSB0"]   # then the firmware itself goes on as usual


def test_auto_port_finds_one_usb_serial_board_or_says_why_not(monkeypatch):
    from serial.tools import list_ports
    ports = []
    monkeypatch.setattr(list_ports, "comports", lambda: ports)
    res = invoke("auto")
    assert res.exit_code == 1 and "no USB serial board found" in res.output
    ports[:] = [SimpleNamespace(device="/dev/ttyS0", vid=None, pid=None),
                SimpleNamespace(device="/dev/ttyUSB0", vid=0x10c4, pid=0xea60)]
    assert flash_cli.resolve_port("auto") == "/dev/ttyUSB0"
    ports.append(SimpleNamespace(device="/dev/ttyACM0", vid=0x303a, pid=0x1001))
    res = invoke("auto")
    assert res.exit_code == 1 and "several USB serial ports found (auto): /dev/ttyACM0, /dev/ttyUSB0" in res.output


def test_wifi_password_comes_from_the_option_the_environment_or_nowhere(monkeypatch):
    assert flash_cli.wifi_pair("lab:se:cret") == ("lab", "se:cret")
    assert flash_cli.wifi_pair("open:") == ("open", "")
    monkeypatch.setenv("NEOC_WIFI_PASSWORD", "from-env")
    assert flash_cli.wifi_pair("lab") == ("lab", "from-env")
    monkeypatch.delenv("NEOC_WIFI_PASSWORD")
    res = invoke("socket://127.0.0.1:1", "--wifi", "lab")     # no terminal to prompt on
    assert res.exit_code == 2 and "no Wi-Fi password for lab" in res.output


def test_refused_combinations_say_why():
    for args, msg in ((["--register"], "--register needs --location"),
                      (["--location", "U4/302"], "are for --register"),
                      (["--erase", "--wifi", "a:b"], "--erase takes no other option")):
        res = invoke("socket://127.0.0.1:1", *args)
        assert res.exit_code == 2 and msg in res.output, res.output


def test_an_unreachable_port_is_a_clear_error():
    res = invoke("socket://127.0.0.1:1")
    assert res.exit_code == 1 and "cannot open socket://127.0.0.1:1" in res.output
    assert "Traceback" not in res.output


def test_help_without_a_terminal():
    out = subprocess.run([sys.executable, "-m", "neoc", "flash", "--help"], cwd=ROOT, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--micropython FIRMWARE.bin" in out.stdout and "socket://HOST:PORT" in out.stdout


@pytest.mark.slow
@pytest.mark.micropython
def test_dry_run_info_and_erase_on_a_virtual_board(tmp_path):
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    board = VirtualBoard("aa:bb:cc:00:15:09", blank=True, repl="socket://127.0.0.1:0", flash_dir=tmp_path / "f",
                         echo=False, board="esp32")
    board.start()
    try:
        board.wait_for(r'Type "help\(\)"', 30)
        port = "socket://%s:%d" % board.repl
        res = invoke(port, "--dry-run", "--wifi", "lab:hunter2", "--server", "http://127.0.0.1:9")
        assert res.exit_code == 0, res.output
        assert "send /romfs.img (" in res.output and "send /config.json (" in res.output
        assert "dry run: nothing written to aa:bb:cc:00:15:09 (esp32, deploy romfs)" in res.output
        assert list(board.flash.iterdir()) == [] and "hunter2" not in res.output

        ca = tmp_path / "campus-ca.pem"
        ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        res = invoke(port, "--wifi", "lab:hunter2", "--server", "http://127.0.0.1:9", "--deploy", "mpy",
                     "--ca", str(ca))
        assert res.exit_code == 0, res.output
        assert (board.flash / "ca.pem").read_bytes() == ca.read_bytes()
        board.wait_for(r"^--- boot 2 \(soft\)", 20)
        res = CliRunner().invoke(flash_cli.info, [port, "--json"])
        assert res.exit_code == 0, res.output
        info = json.loads(res.output)
        assert info["mac"] == "aa:bb:cc:00:15:09" and info["board"] == "esp32" and info["micropython"] == "1.29.0"
        assert info["deploy"] == "mpy" and info["arch"] == "x64" and info["firmware"] > 250000
        assert info["heap_free"] > 10000 and info["flash_free"] > 0 and info["romfs_partition"] == "virtual"
        assert info["config"]["wifi"] == [{"ssid": "lab", "password": "********"}]
        assert info["config"]["sensocampus"] == "http://127.0.0.1:9"
        text = CliRunner().invoke(flash_cli.info, [port]).output
        assert "mac:" in text and "hunter2" not in text

        (board.flash / "sensocampus.json").write_text("{}")
        res = invoke(port, "--erase", "--dry-run")
        assert "delete /sensocampus.json" in res.output and (board.flash / "config.json").exists()
        res = invoke(port, "--erase")
        assert res.exit_code == 0 and "erased aa:bb:cc:00:15:09" in res.output, res.output
        assert list(board.flash.iterdir()) == []
    finally:
        board.stop()
