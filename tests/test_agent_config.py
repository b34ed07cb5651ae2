"""The agent's start: every bad setting is a clear error naming its key, from
the library and from the command line (stdin closed, as under systemd);
the credentials file is 0600 and written atomically."""
import os
import stat
import subprocess
import sys

import pytest

from rpi_agent import config, hardware, store
from rpi_agent.notify import Notifier
from support.agent_helpers import ROOT


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "rpi_agent", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, cwd=str(ROOT),
                          env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})))


@pytest.mark.parametrize("doc,key", [
    ({"agent": {"roles": ["sensors", "toaster"]}}, "agent.roles"),
    ({"agent": {"roles": []}}, "agent.roles"),
    ({"agent": {"server": "ftp://x"}}, "agent.server"),
    ({"agent": {"mac": "00:11:22:33:44"}}, "agent.mac"),
    ({"agent": {"colour": "red"}}, "agent.colour"),
    ({"sensor": {}}, "sensor"),
    ({"mqtt": {"port": 70000}}, "mqtt.port"),
    ({"mqtt": {"port": "1883"}}, "mqtt.port"),
    ({"mqtt": {"tls": "yes"}}, "mqtt.tls"),
    ({"mqtt": {"ca_file": "/nonexistent/ca.pem"}}, "mqtt.ca_file"),
    ({"outbox": {"max_readings": 3}}, "outbox.max_readings"),
    ({"outbox": {"sync": "fast"}}, "outbox.sync"),
    ({"outbox": {"sync_window": 0}}, "outbox.sync_window"),
    ({"metrics": {"listen": "nowhere"}}, "metrics.listen"),
    ({"sensors": {"inputs": [{"pin": 99}]}}, "sensors.inputs[0].pin"),
    ({"sensors": {"inputs": [{"pin": 4, "type": "smoke"}]}}, "sensors.inputs[0].type"),
    ({"sensors": {"outputs": [{"name": "a", "pin": 5}, {"name": "a", "pin": 6}]}}, "sensors.outputs[1].name"),
    ({"concentrator": {"modbus": [{"port": "/dev/ttyUSB0", "registers": [{"address": 1, "module": "pressure",
                                                                           "subID": "p"}]}]}},
     "concentrator.modbus[0].registers[0].module"),
    ({"concentrator": {"modbus": [{"port": "/dev/ttyUSB0"}]}}, "concentrator.modbus[0].registers"),
    ({"display": {"rooms": ["u4"]}}, "display.rooms"),
])
def test_a_bad_setting_names_its_key(doc, key):
    with pytest.raises(config.ConfigError) as e:
        config.parse(doc)
    assert str(e.value).startswith(key + ": "), str(e.value)


def test_defaults_and_a_full_config_parse():
    cfg = config.parse({})
    assert cfg["agent"]["roles"] == ["sensors"] and cfg["mqtt"]["keepalive"] == 60
    assert cfg["agent"]["credentials"] == "/var/lib/neocampus/credentials.json"
    assert cfg["outbox"]["path"] == "/var/lib/neocampus/outbox.sqlite"
    cfg = config.parse({"agent": {"roles": ["concentrator", "display"], "mac": "AA-BB-CC-DD-EE-FF"},
                        "concentrator": {"serial": [{"port": "/dev/ttyACM0", "unit": "board"}]},
                        "display": {"rooms": ["u4/302"]}})
    assert cfg["agent"]["mac"] == "aa:bb:cc:dd:ee:ff"
    assert cfg["concentrator"]["serial"][0]["silent_after"] == 60
    assert cfg["display"]["listen"] == ("127.0.0.1", 8080)


def test_a_concentrator_without_lines_starts_and_says_so():
    # Refusing it left a freshly installed Pi failing in a loop (issue 16): it
    # starts, bridges nothing, and its note is logged at start.
    cfg = config.parse({"agent": {"roles": ["concentrator"]}})
    assert cfg["concentrator"] == {"serial": [], "modbus": []}
    assert config.notes(cfg) == [config.NO_LINES] and "[[concentrator.serial]]" in config.NO_LINES
    assert config.notes(cfg, simulate=True) == []  # --simulate brings its own fake board and meter
    assert config.notes(config.parse({"agent": {"roles": ["sensors"]}})) == []
    with_line = config.parse({"agent": {"roles": ["concentrator"]},
                              "concentrator": {"serial": [config.serial_line("/dev/ttyUSB0")]}})
    assert config.notes(with_line) == []


@pytest.mark.parametrize("value,line", [
    ("/dev/ttyUSB0", {"port": "/dev/ttyUSB0"}),
    ("/dev/ttyUSB0:115200", {"port": "/dev/ttyUSB0", "baudrate": 115200}),
    # by-path names hold colons: only a tail of digits is a baud rate
    ("/dev/serial/by-path/platform-3f980000.usb-usb-0:1.2:1.0-port0",
     {"port": "/dev/serial/by-path/platform-3f980000.usb-usb-0:1.2:1.0-port0"}),
    ("/dev/serial/by-path/platform-usb-0:1.2:1.0-port0:57600",
     {"port": "/dev/serial/by-path/platform-usb-0:1.2:1.0-port0", "baudrate": 57600}),
])
def test_serial_option(value, line):
    assert config.serial_line(value) == line


@pytest.mark.parametrize("value,why", [("ttyUSB0", "a device path"), ("/dev/ttyUSB0:7", "baudrate: must be a baud rate"),
                                       (":9600", "a device path"), ("", "a device path")])
def test_bad_serial_option_names_the_option_and_value(value, why):
    with pytest.raises(config.OptionError) as e:
        config.serial_line(value)
    assert str(e.value).startswith("--serial %r: " % value) and why in e.value.why, str(e.value)


def test_malformed_toml_is_a_clear_error_from_the_command_line(tmp_path):
    bad = tmp_path / "agent.toml"
    bad.write_text('[agent]\nroles = ["sensors"\n')
    r = run_cli("--config", str(bad))
    assert r.returncode == 1
    assert "agent.toml: not valid TOML" in r.stderr and "Traceback" not in r.stderr


def test_unknown_role_and_missing_file_from_the_command_line(tmp_path):
    good = tmp_path / "agent.toml"
    good.write_text('[agent]\nroles = ["sensors", "lamp"]\n')
    r = run_cli("--config", str(good))
    assert r.returncode == 1 and "agent.roles: must be a non-empty list of sensors, display, concentrator" \
        in r.stderr, r.stderr
    r = run_cli("--config", str(tmp_path / "none.toml"))
    assert r.returncode == 1 and "none.toml: no such config file" in r.stderr
    r = run_cli("--role", "toaster")
    assert r.returncode == 2 and "toaster" in r.stderr


def test_missing_i2c_bus_is_a_clear_error(tmp_path):
    with pytest.raises(hardware.HardwareError) as e:
        hardware.real(bus=97)
    assert str(e.value).startswith("sensors.bus: /dev/i2c-97 does not exist")
    cfg = tmp_path / "agent.toml"
    cfg.write_text('[agent]\nmac = "02:00:00:00:00:01"\nserver = "http://127.0.0.1:9"\nstate_dir = "%s"\n'
                   '[sensors]\nbus = 97\n' % tmp_path)
    r = run_cli("--config", str(cfg))
    assert r.returncode == 1 and "/dev/i2c-97 does not exist" in r.stderr and "Traceback" not in r.stderr


def test_credentials_file_is_private_and_replaced_whole(tmp_path):
    path = tmp_path / "state" / "credentials.json"
    store.save_json(str(path), {"mqtt_login": "senso_x", "mqtt_passwd": "p1"})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    store.save_json(str(path), {"mqtt_login": "senso_x", "mqtt_passwd": "p2"})
    assert store.load_json(str(path))["mqtt_passwd"] == "p2"
    assert [p.name for p in path.parent.iterdir()] == ["credentials.json"]  # no temp file left
    path.write_text("{half")
    assert store.load_json(str(path)) is None


def test_notify_socket_datagrams(tmp_path):
    import socket
    addr = str(tmp_path / "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(addr)
    n = Notifier({"NOTIFY_SOCKET": addr, "WATCHDOG_USEC": "20000000"})
    assert n.watchdog_period == 10.0
    assert n.ready("up") and n.watchdog()
    assert s.recv(100) == b"READY=1\nSTATUS=up"
    assert s.recv(100) == b"WATCHDOG=1"
    assert not Notifier({}).ready() and Notifier({}).watchdog_period is None
    s.close()
