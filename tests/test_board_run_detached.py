"""`neoc board run` started as a script, a service or a test harness would start it:
no terminal, stdin closed. The board runs until a signal or --duration, says why it
stopped, and leaves no MicroPython process behind, even when its runner is SIGKILLed."""
import os
import pathlib
import signal
import subprocess
import sys

import pytest

from harness import ROOT, need, wait_until
from toolchain import micropython as upy

pytestmark = [pytest.mark.slow, pytest.mark.micropython]

MAC = "aa:bb:cc:00:77:01"
ROOM = "u4/210"


@pytest.fixture(autouse=True)
def _vm():
    if upy.unavailable_reason():
        need(upy.unavailable_reason())


def vms_in(flash):
    """PIDs of processes running with `flash` as their working directory: the
    board's VM (the runner runs from ROOT)."""
    flash = str(pathlib.Path(flash).resolve())
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd") == flash:
                    pids.append(int(entry.name))
            except OSError:
                pass       # gone, or not ours to read
    return pids


def start_board(flash, *args, log):
    return subprocess.Popen([sys.executable, "-m", "neoc", "board", "run", "--mac", MAC,
                             "--flash-dir", str(flash), *args],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)


def test_a_board_with_stdin_closed_publishes_until_sigterm(stub, tmp_path):
    stub.admin.add_device(MAC, location=ROOM, modules=[{"module": "temperature", "frequency": 30}])
    flash = tmp_path / "flash"
    log_path = tmp_path / "board.log"
    with open(log_path, "wb") as log:
        proc = start_board(flash, "--server", stub.url, "--broker", "%s:%d" % (stub.mqtt_host, stub.mqtt_port),
                           "--chip", "mcp9808@0x18:temperature=23.25", log=log)
    try:
        rows = wait_until(lambda: [r for r in stub.admin.readings(topic=ROOM) if r["module"] == "temperature"],
                          90, "a temperature reading from the board")
        assert rows[0]["value"] == 23.25 and rows[0]["unitID"] == "auto_7701"
        assert proc.poll() is None, "the runner ended:\n" + log_path.read_text()
        assert vms_in(flash), "no VM running in the flash folder"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    out = log_path.read_text()
    assert "stdin closed; control commands off, the board runs on" in out
    assert "--- board stopped: SIGTERM" in out, out[-2000:]
    assert vms_in(flash) == []


MAIN = "import time\nwhile True:\n    print('tick')\n    time.sleep_ms(200)\n"


def test_duration_ends_the_board_and_says_so(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "main.py").write_text(MAIN)
    with open(tmp_path / "board.log", "wb") as log:
        proc = start_board(flash, "--blank", "--heap", "64k", "--duration", "3", log=log)
        try:
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    out = (tmp_path / "board.log").read_text()
    assert "tick" in out and "--- board stopped: --duration 3 s elapsed" in out, out[-2000:]
    assert vms_in(flash) == []


def test_a_runner_killed_hard_takes_its_vm_with_it(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "main.py").write_text(MAIN)
    with open(tmp_path / "board.log", "wb") as log:
        proc = start_board(flash, "--blank", "--heap", "64k", log=log)
    try:
        wait_until(lambda: b"tick" in (tmp_path / "board.log").read_bytes(), 30, "the VM's first tick")
        assert vms_in(flash)
        proc.kill()
        proc.wait(10)
        wait_until(lambda: vms_in(flash) == [], 10, "the VM to end with its runner")
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in vms_in(flash):
            os.kill(pid, signal.SIGKILL)


def test_duration_must_be_positive():
    out = subprocess.run([sys.executable, "-m", "neoc", "board", "run", "--mac", MAC, "--duration", "0"],
                         cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "--duration" in out.stderr
