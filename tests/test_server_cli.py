"""`neoc device ...` and `neoc readings` against a running stub, as a user would type them."""
import json
import os
import subprocess
import sys

import pytest

from provisioning.stub_process import StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from support.stub_helpers import mqtt_client, handshake, wait_until  # noqa: E402


def neoc(stub, *args, env=None, check=True, auth="env"):
    e = dict(os.environ)
    e.pop("NEOC_TOKEN", None)
    e.pop("NEOC_SERVER", None)
    if auth == "env":
        e["NEOC_SERVER"], e["NEOC_TOKEN"] = stub.url, stub.token
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "neoc", *args], capture_output=True, text=True, env=e, timeout=60)
    if check:
        assert p.returncode == 0, p.stdout + p.stderr
    return p


def test_device_lifecycle_from_the_shell(stub):
    out = neoc(stub, "device", "add", "AA-BB-CC-00-00-01", "--location", "Bâtiment U4/Salle 302-B",
               "--module", "temperature:120", "--module", "luminosity").stdout
    assert "AA:BB:CC:00:00:01" in out and "batiment_u4/salle_302_b" in out and "pending" in out
    listed = json.loads(neoc(stub, "device", "list", "--json").stdout)
    d = next(x for x in listed if x["mac"] == "AA:BB:CC:00:00:01")
    assert [(m["module"], m["frequency"]) for m in d["modules"]] == [("temperature", 120), ("luminosity", 30)]
    table = neoc(stub, "device", "list").stdout.splitlines()
    assert table[0].split()[:3] == ["MAC", "LOGIN", "TOPIC"]
    assert any("senso_aabbcc000001" in line for line in table[1:])

    neoc(stub, "device", "disable", "aa:bb:cc:00:00:01")
    assert stub.admin.device("aa:bb:cc:00:00:01")["enabled"] is False
    neoc(stub, "device", "enable", "aa:bb:cc:00:00:01")
    login, password, _ = handshake(stub, "aa:bb:cc:00:00:01")
    shown = json.loads(neoc(stub, "device", "show", "aabbcc000001", "--json").stdout)
    assert shown["password_pending"] is False and shown["status"]["device"] is None
    neoc(stub, "device", "reset-credentials", "aa:bb:cc:00:00:01")
    assert stub.admin.device("aa:bb:cc:00:00:01")["password_pending"] is True
    neoc(stub, "device", "rm", "aa:bb:cc:00:00:01")
    assert all(x["mac"] != "AA:BB:CC:00:00:01" for x in stub.admin.devices())


def test_order_and_readings_from_the_shell(stub):
    mac = "aa:bb:cc:00:00:02"
    neoc(stub, "device", "add", mac, "--location", "U4/302")
    login, password, cfg = handshake(stub, mac)
    dev = mqtt_client(stub, login, password)
    dev.subscribe("u4/302/+/command")
    sent = json.loads(neoc(stub, "device", "order", mac, "frequency", "900", "--json").stdout)
    assert sent["topic"] == "u4/302/device/command"
    assert dev.wait_for(lambda t, p: json.loads(p) == {"dest": "AA:BB:CC:00:00:02", "order": "frequency",
                                                       "value": 900})
    dev.publish("u4/302/temperature", {"value": 22.5, "value_units": "celsius", "subID": "24",
                                       "unitID": "auto_0002", "seq": 1})
    dev.close()
    assert wait_until(lambda: stub.admin.readings(topic="u4/302"))
    rows = json.loads(neoc(stub, "readings", "--topic", "u4/302", "--json").stdout)
    assert [(r["unitID"], r["value"], r["seq"]) for r in rows] == [("auto_0002", 22.5, 1)]
    table = neoc(stub, "readings", "--topic", "u4/302").stdout
    assert "u4/302/temperature" in table and "22.5" in table


def test_broker_override_from_the_shell(stub):
    neoc(stub, "device", "add", "aa:bb:cc:00:00:04", "--location", "u4/302", "--mqtt-server", "mqtt.example",
         "--mqtt-port", "8883")
    import requests
    cred = requests.get(stub.url + "/device/credentials", params={"mac": "aa:bb:cc:00:00:04"}, timeout=5).json()
    assert (cred["server"], cred["port"]) == ("mqtt.example", 8883)


def test_token_from_data_dir_and_clear_errors(stub):
    p = neoc(stub, "device", "list", "--json", "--server", stub.url, "--data-dir", str(stub.data_dir), auth=None)
    assert isinstance(json.loads(p.stdout), list)
    p = neoc(stub, "device", "list", "--server", stub.url, "--token", "wrong", auth=None, check=False)
    assert p.returncode != 0 and "401" in p.stderr
    p = neoc(stub, "device", "list", "--data-dir", "/nonexistent", auth=None, check=False)
    assert p.returncode != 0 and "admin token" in p.stderr
    p = neoc(stub, "device", "add", "not-a-mac", "--location", "u4/302", check=False)
    assert p.returncode != 0 and "MAC" in p.stderr and "Traceback" not in p.stderr
    p = neoc(stub, "device", "add", "aa:bb:cc:00:00:03", "--location", "u4/302", "--module", "temperature:x",
             check=False)
    assert p.returncode != 0 and "FREQUENCY" in p.stderr
    p = neoc(stub, "device", "show", "aa:bb:cc:00:00:09", check=False)
    assert p.returncode != 0 and "404" in p.stderr


def test_server_generates_private_token_and_prints_its_path(tmp_path):
    with StubServer(tmp_path / "s") as s:
        out = s.output()
        assert "admin token in %s" % (tmp_path / "s" / "admin-token") in out
        assert (tmp_path / "s" / "admin-token").stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "s" / "registry.sqlite3").exists()
