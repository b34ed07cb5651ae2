"""`neoc agent install` against a temporary root: config and units written,
enabled offline, idempotent, --dry-run writing nothing; the units pass
`systemd-analyze verify`; and the agent really speaks the notify protocol
its Type=notify unit expects (READY=1, then WATCHDOG=1 pings)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tomllib

import pytest

from rpi_agent import config, install
from support.agent_helpers import ROOT, agent_process
from support.stub_helpers import mqtt_client


def neoc_install(*args):
    return subprocess.run([sys.executable, "-m", "rpi_agent", "install", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, cwd=str(ROOT),
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_install_into_a_root_is_idempotent_and_verified(tmp_path):
    root = tmp_path / "root"
    r = neoc_install("--role", "sensors", "--role", "display", "--server", "http://senso.lan:8000", "--root", str(root))
    assert r.returncode == 0, r.stderr
    unit_dir = root / "etc/systemd/system"
    agent_unit = (unit_dir / "neocampus-agent.service").read_text()
    for line in ("Type=notify", "Restart=always", "WatchdogSec=60", "ExecStart=%s -m rpi_agent --config "
                 "/etc/neocampus/agent.toml" % sys.executable):
        assert line in agent_unit.splitlines(), line
    kiosk = (unit_dir / "neocampus-kiosk.service").read_text()
    assert "--kiosk" in kiosk and "http://127.0.0.1:8080/" in kiosk
    cfg = config.parse(tomllib.loads((root / "etc/neocampus/agent.toml").read_text()))
    assert cfg["agent"]["roles"] == ["sensors", "display"] and cfg["agent"]["server"] == "http://senso.lan:8000"
    if shutil.which("systemctl"):
        assert (unit_dir / "multi-user.target.wants/neocampus-agent.service").is_symlink()
        assert (unit_dir / "graphical.target.wants/neocampus-kiosk.service").is_symlink()
    assert "nothing started" in r.stdout
    # Again: nothing changes, and it says so.
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    r = neoc_install("--role", "sensors", "--role", "display", "--server", "http://senso.lan:8000", "--root", str(root))
    assert r.returncode == 0 and r.stdout.count("unchanged: ") == 3, r.stdout
    assert stamps == {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    # Another server rewrites the config, keeping the old one beside it.
    r = neoc_install("--role", "sensors", "--role", "display", "--server", "http://other.lan", "--root", str(root))
    assert r.returncode == 0 and "saved: " in r.stdout, r.stdout
    assert "senso.lan" in (root / "etc/neocampus/agent.toml.bak").read_text()
    assert "other.lan" in (root / "etc/neocampus/agent.toml").read_text()
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here: the units were not verified")
    v = subprocess.run([analyze, "verify", str(unit_dir / "neocampus-agent.service"),
                        str(unit_dir / "neocampus-kiosk.service")], capture_output=True, text=True, timeout=60)
    assert v.returncode == 0, v.stderr


def test_dry_run_writes_nothing_and_shows_everything(tmp_path):
    root = tmp_path / "root"
    r = neoc_install("--role", "sensors", "--root", str(root), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert not root.exists()
    assert "would write: %s/etc/systemd/system/neocampus-agent.service" % root in r.stdout
    assert "Type=notify" in r.stdout and "would run: " in r.stdout


def test_serial_lines_and_a_fragment_are_merged_and_checked(tmp_path):
    root = tmp_path / "root"
    fragment = tmp_path / "meter.toml"
    fragment.write_text('[agent]\nlog_level = "debug"\nroles = ["display"]\n\n[[concentrator.modbus]]\n'
                        'port = "/dev/ttyUSB1"\n[[concentrator.modbus.registers]]\naddress = 0\n'
                        'module = "temperature"\nsubID = "t0"\n')
    r = neoc_install("--role", "concentrator", "--serial", "/dev/ttyUSB0:115200", "--serial", "/dev/ttyACM0",
                     "--agent-config", str(fragment), "--server", "http://senso.lan", "--root", str(root))
    assert r.returncode == 0 and "note: " not in r.stdout, r.stdout + r.stderr
    cfg = config.parse(tomllib.loads((root / "etc/neocampus/agent.toml").read_text()))
    # the options win over the fragment's [agent] keys; its other settings are kept
    assert cfg["agent"]["roles"] == ["concentrator"] and cfg["agent"]["log_level"] == "debug"
    assert [(c["port"], c["baudrate"]) for c in cfg["concentrator"]["serial"]] == [("/dev/ttyUSB0", 115200),
                                                                                    ("/dev/ttyACM0", 9600)]
    assert cfg["concentrator"]["modbus"][0]["registers"][0]["subID"] == "t0"
    # the same again: nothing changes
    again = neoc_install("--role", "concentrator", "--serial", "/dev/ttyUSB0:115200", "--serial", "/dev/ttyACM0",
                         "--agent-config", str(fragment), "--server", "http://senso.lan", "--root", str(root))
    assert again.stdout.count("unchanged: ") == 2, again.stdout
    # no --role: the fragment's roles
    p = install.plan((), None, None, str(root), extra=config.read(str(fragment)))
    assert config.parse(tomllib.loads(p["files"][0][1]))["agent"]["roles"] == ["display"]
    assert p["units"] == [install.AGENT_UNIT, install.KIOSK_UNIT]
    # bad values: one line naming them, nothing written
    fragment.write_text('[[concentrator.serial]]\nport = "/dev/ttyUSB0"\nbaudrate = 7\n')
    for args, said in ((("--serial", "ttyUSB0"), "--serial 'ttyUSB0': want PORT[:BAUD]"),
                       (("--agent-config", str(fragment)), "concentrator.serial[0].baudrate: must be a baud rate"),
                       (("--agent-config", str(tmp_path / "none.toml")), "none.toml: no such config file")):
        r = neoc_install("--role", "concentrator", "--root", str(tmp_path / "bad"), *args)
        assert r.returncode == 1 and said in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert not (tmp_path / "bad").exists()


def test_a_concentrator_without_lines_is_installed_with_a_note(tmp_path):
    r = neoc_install("--role", "concentrator", "--root", str(tmp_path / "root"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("note: " + config.NO_LINES + "\n")
    text = (tmp_path / "root/etc/neocampus/agent.toml").read_text()
    assert "# [[concentrator.serial]]" in text  # where to add one, in the file itself
    assert config.notes(config.parse(tomllib.loads(text))) == [config.NO_LINES]


def test_bad_role_is_refused():
    with pytest.raises(install.InstallError):
        install.plan(["toaster"], None, None, "/nonexistent")


@pytest.mark.slow
def test_agent_speaks_sd_notify_ready_and_watchdog(stub, tmp_path):
    mac = "02:aa:bb:cc:00:5d"
    stub.admin.add_device(mac, location="u4/notify", modules=["temperature"])
    addr = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(addr)
    sock.settimeout(20)
    p = agent_process(["--simulate", "--server", stub.url, "--mac", mac, "--state-dir", str(tmp_path / "s"),
                       "--metrics", ""], tmp_path / "agent.log",
                      env={"NOTIFY_SOCKET": addr, "WATCHDOG_USEC": "1000000"})
    try:
        got = [sock.recv(200)]
        assert got[0].startswith(b"READY=1\nSTATUS=publishing to u4/notify"), got
        pings = 0
        while pings < 3:
            if sock.recv(200) == b"WATCHDOG=1":
                pings += 1
        p.terminate()
        assert p.wait(15) == 0
        assert sock.recv(200) == b"STOPPING=1"
    finally:
        if p.poll() is None:
            p.kill()
        sock.close()


@pytest.mark.slow
def test_a_concentrator_installed_without_lines_runs_and_says_so(stub, tmp_path):
    """What a Pi installed for the concentrator role with no line does (issue
    16): its agent starts from the installed config, registers and publishes,
    with the note in its log and `lines` empty in its status."""
    mac = "02:aa:bb:cc:00:5e"
    stub.admin.add_device(mac, location="u4/noline")
    root = tmp_path / "root"
    r = neoc_install("--role", "concentrator", "--server", stub.url, "--root", str(root))
    assert r.returncode == 0, r.stderr
    obs = mqtt_client(stub, *stub.collector_credentials())
    assert obs.subscribe("u4/noline/+") in (0, 1)
    log = tmp_path / "agent.log"
    p = agent_process(["--config", str(root / "etc/neocampus/agent.toml"), "--mac", mac,
                       "--state-dir", str(tmp_path / "s"), "--metrics", ""], log)
    try:
        got = obs.wait_for(lambda t, m: t == "u4/noline/device", 20, what="the device status")
        status = json.loads(got[0].payload)
        assert status["lines"] == {} and status["garbage_lines"] == 0, status
        assert p.poll() is None, log.read_text()
        assert "WARNING rpi_agent: " + config.NO_LINES in log.read_text()
        p.terminate()
        assert p.wait(15) == 0
    finally:
        if p.poll() is None:
            p.kill()
        obs.close()


def test_a_reboot_order_ends_in_systemctl_reboot(tmp_path, monkeypatch):
    """What `reboot` runs once the agent has stopped (a recording systemctl first on PATH)."""
    from rpi_agent.agent import carry_out
    bindir = tmp_path / "bin"
    bindir.mkdir()
    said = tmp_path / "said"
    fake = bindir / "systemctl"
    fake.write_text('#!/bin/sh\necho "$@" >> %s\n' % said)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ["PATH"])
    assert carry_out("reboot", simulate=False) == 0
    assert said.read_text() == "reboot\n"
