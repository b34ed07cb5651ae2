"""The agent as a process on the stub and Mosquitto, as the firmware is seen
from the broker: its `device` status and last will in the firmware's shape,
device orders (frequency kept across a restart, restart of the agent), its
warnings shipped to /device/logger, and `neoc agent scan`."""
import json
import os
import signal
import subprocess
import sys

import pytest

from neocampus import payload
from support.agent_helpers import ROOT, agent_process
from support.stub_helpers import mqtt_client, wait_until

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

MAC = "02:aa:bb:cc:de:01"
FIRMWARE_STATUS_KEYS = ["unitID", "frequency", "sensors", "time", "status", "modules", "heap", "hardware",
                        "firmware", "board", "foreign_commands", "bad_commands", "mqtt_connects", "memory_errors"]


@pytest.fixture
def mstub(tmp_path):
    import shutil
    if shutil.which("mosquitto", path="/usr/sbin:/usr/bin:/sbin") is None:
        pytest.skip("Mosquitto is not installed: `sudo apt-get install mosquitto`")
    from provisioning.stub_process import StubServer
    s = StubServer(tmp_path / "stub", broker="mosquitto")
    s.start()
    yield s
    s.stop()
    print(s.output())


def statuses(obs, start=0):
    return [json.loads(m.payload) for m in obs.messages[start:] if m.topic == "u4/dev/device"]


def test_device_status_orders_restart_will_and_logs(mstub, tmp_path):
    mstub.admin.add_device(MAC, location="u4/dev", modules=["temperature"])
    user, password = mstub.collector_credentials()
    obs = mqtt_client(mstub, user, password)
    assert obs.subscribe("u4/dev/#") in (0, 1)
    state = tmp_path / "state"
    log = tmp_path / "agent.log"
    p = agent_process(["--simulate", "--server", mstub.url, "--mac", MAC, "--state-dir", str(state),
                       "--metrics", ""], log, popen={"start_new_session": True})
    try:
        obs.wait_for(lambda t, m: t == "u4/dev/device" and b'"status": "running"' in m, 15, what="running")
        st = [s for s in statuses(obs) if s["status"] == "running"][0]
        # The firmware's device status, field for field, in its order, plus the agent's own after them.
        assert list(st)[:len(FIRMWARE_STATUS_KEYS)] == FIRMWARE_STATUS_KEYS, list(st)
        assert st["unitID"] == MAC and st["frequency"] == 1800 and st["modules"] == ["temperature"]
        assert st["board"] == "simulated" and st["firmware"].startswith("rpi_agent-")
        assert st["outbox"] >= 0 and st["dropped"] == 0 and st["lost"] == 0

        # frequency: clamped to the device module's range, answered, kept on disk.
        mark = obs.mark()
        obs.order("u4/dev/device/command", MAC.upper(), "frequency", 100)
        obs.wait_for(lambda t, m: t == "u4/dev/device" and b'"frequency": 900' in m, 10, start=mark,
                     what="a status with the clamped frequency")
        assert json.loads((state / "module_device.json").read_text()) == {"frequency": 900}

        # A warning goes to the server's log (rate-limited, in the background).
        obs.publish("u4/dev/nosuch/command", {"dest": "all", "order": "status"})
        assert wait_until(lambda: any("no module 'nosuch'" in e.get("msg", "") for e in mstub.admin.logs(MAC)), 10), \
            mstub.admin.logs(MAC)

        # restart: announced, then the same process image starts again and says running.
        mark = obs.mark()
        obs.order("u4/dev/device/command", MAC, "restart")
        obs.wait_for(lambda t, m: t == "u4/dev/device" and b'"status": "rebooting"' in m, 10, start=mark,
                     what="the restart announced")
        obs.wait_for(lambda t, m: t == "u4/dev/device" and b'"status": "running"' in m, 20, start=mark,
                     what="running again after the restart")
        assert p.poll() is None  # exec'd in place: the same pid, as systemd would have restarted it
        again = [s for s in statuses(obs, mark) if s["status"] == "running"][0]
        assert again["frequency"] == 900  # restored from module_device.json

        # SIGKILL: the broker publishes the last will, the firmware's own.
        mark = obs.mark()
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(10)
        will = obs.wait_for(lambda t, m: t == "u4/dev/device" and b'"status": "offline"' in m, 90, start=mark,
                            what="the last will")[0]
        assert will.payload.decode() == payload.status("device", 900, 0, "", MAC, status="offline")
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        obs.close()


def test_scan_lists_chips_and_a_reading_of_each():
    r = subprocess.run([sys.executable, "-m", "rpi_agent", "--simulate", "scan"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60, cwd=str(ROOT),
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "i2c bus 1 (simulated): 3 chip(s) identified, 0 unknown address(es)"
    assert lines[1].split() == ["address", "chip", "status", "reading"]
    assert lines[2].split() == ["0x18", "MCP9808", "ok", "temperature", "21.25", "°C"]
    assert lines[3].split()[:5] == ["0x29", "TSL2591", "ok", "lux", lines[3].split()[4]]
    assert lines[4].split()[:3] == ["0x77", "BME280", "ok"] and "pressure 1013.24 hPa" in lines[4]
    lux = float(lines[3].split()[4])
    assert 300 < lux < 340  # the model's 320 lux, after one integration
    assert lines[-1] == "all good: wired right"
    r = subprocess.run([sys.executable, "-m", "rpi_agent", "--simulate", "scan", "--watch", "--count", "2", "--json"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, cwd=str(ROOT),
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    reports = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0 and len(reports) == 2 and reports[1]["problems"] == []
    assert [row["chip"] for row in reports[1]["rows"]] == ["MCP9808", "TSL2591", "BME280"]
    r = subprocess.run([sys.executable, "-m", "rpi_agent", "scan"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60, cwd="/", env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if not os.path.exists("/dev/i2c-1"):
        assert r.returncode == 1 and "/dev/i2c-1 does not exist" in r.stderr
