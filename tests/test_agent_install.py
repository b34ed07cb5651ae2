"""`neoc agent install` against a temporary root: config and units written,
enabled offline, idempotent, --dry-run writing nothing; the units pass
`systemd-analyze verify`; and the agent really speaks the notify protocol
its Type=notify unit expects (READY=1, then WATCHDOG=1 pings)."""
import os
import shutil
import socket
import subprocess
import sys
import tomllib

import pytest

from rpi_agent import config, install
from support.agent_helpers import ROOT, agent_process


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
    # A concentrator needs its serial lines in the config first: refused, nothing written.
    r = neoc_install("--role", "concentrator", "--root", str(root))
    assert r.returncode == 1 and "concentrator" in r.stderr and "Traceback" not in r.stderr
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
