"""The smaller holes of issue 19 (parts 4 and 6): admin parameters, room topics that
collide, what the live page shows, private files, the admin token off the command
line, the embedded broker's `$` and control-character topics, Mosquitto's size limit."""
import os
import stat
import sys
import time

import pytest
import requests

from provisioning import mosquitto as mq
from provisioning.registry import Registry, RegistryError
from provisioning.stub_process import StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from harness import need  # noqa: E402
from support.stub_helpers import handshake, mqtt_client, wait_until  # noqa: E402


def test_locations_whose_topics_collide_are_refused(tmp_path):
    reg = Registry(tmp_path / "r.sqlite3")
    reg.add_device("02:00:00:00:00:01", "U4/302-B")
    reg.add_device("02:00:00:00:00:02", "u4/302-b")  # the same room, written otherwise
    with pytest.raises(RegistryError, match="topic u4/302_b of U4/302-B"):
        reg.add_device("02:00:00:00:00:03", "U4/302 b")
    reg.add_device("02:00:00:00:00:04", "U4/Σ1")
    with pytest.raises(RegistryError, match="already"):
        reg.add_device("02:00:00:00:00:05", "U4/Ж1")
    reg.add_device("02:00:00:00:00:06", "U4/303")
    with pytest.raises(RegistryError, match="already"):
        reg.update_device("02:00:00:00:00:06", location="U4/302 B")
    assert reg.device("02:00:00:00:00:06")["topic"] == "u4/303"


def test_last_seen_is_written_once_per_resolution_window(tmp_path):
    """A boot's config call right after its credentials call costs no second write;
    a call later than SEEN_RESOLUTION moves last_seen, and so does a clock set back."""
    from provisioning import registry
    reg = Registry(tmp_path / "r.sqlite3")
    reg.add_device("02:00:00:00:00:07", "u4/302")
    reg.credentials("02:00:00:00:00:07", claimer="127.0.0.1")
    first = reg.device("02:00:00:00:00:07")["last_seen"]
    row = reg.lookup("02:00:00:00:00:07")
    reg.seen(row, first + registry.SEEN_RESOLUTION / 2)
    assert reg.device("02:00:00:00:00:07")["last_seen"] == first
    for later in (first + registry.SEEN_RESOLUTION + 1, first - 5):
        reg.seen(reg.lookup("02:00:00:00:00:07"), later)
        assert reg.device("02:00:00:00:00:07")["last_seen"] == later
    reg.close()


@pytest.fixture(scope="module")
def stub(tmp_path_factory):
    pytest.importorskip("amqtt")
    data = tmp_path_factory.mktemp("holes") / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)  # a data dir that exists already, readable by all
    s = StubServer(data, broker="embedded", token="tok-" + "x" * 20)
    s.start()
    yield s
    s.stop()
    print(s.output())


@pytest.mark.parametrize("query", ["after=1e20", "after=100000000000000000000", "after=-1", "limit=0",
                                   "limit=abc", "limit=1000001", "since=1e400", "since=nan", "since=-5",
                                   "since=yesterday", "topic=" + "a" * 300, "colour=red"])
def test_admin_query_parameters_are_validated(stub, query):
    r = requests.get(stub.url + "/api/readings?" + query, headers={"Authorization": "Bearer " + stub.token},
                     timeout=5)
    assert r.status_code == 400, (query, r.status_code, r.text)
    assert r.json()["error"]


def test_live_page_never_shows_a_pending_device(stub):
    stub.admin.add_device("02:aa:00:00:00:01", location="u4/live1")
    stub.admin.add_device("02:aa:00:00:00:02", location="u4/live1")
    handshake(stub, "02:aa:00:00:00:02")
    macs = [d["mac"] for d in requests.get(stub.url + "/live/state", timeout=5).json()["devices"]]
    assert "02:AA:00:00:00:02" in macs and "02:AA:00:00:00:01" not in macs


def test_data_dir_and_registry_are_private(stub):
    assert stat.S_IMODE(os.stat(stub.data_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(stub.data_dir / "registry.sqlite3").st_mode) == 0o600


def test_admin_token_is_not_on_the_command_line(stub):
    cmdline = open("/proc/%d/cmdline" % stub.proc.pid, "rb").read()
    assert stub.token.encode() not in cmdline and b"--admin-token" not in cmdline
    assert stub.admin.devices() is not None  # and the server has it all the same


def test_embedded_broker_refuses_dollar_and_newline_topics_and_goes_on(stub):
    mac = "02:aa:00:00:01:01"
    stub.admin.add_device(mac, location="u4/live2", modules=["temperature"])
    login, password, _ = handshake(stub, mac)
    c = mqtt_client(stub, login, password)
    assert c.accepted
    c.publish("$SYS/broker/x", {"value": 1}, qos=1)
    c.publish("u4/live2/temp\nerature 2026-01-01 neoc.server ERROR forged", {"value": 1}, qos=1)
    c.publish("u4/live2/temperature", {"value": 20.5, "unitID": "auto_0101", "subID": "24", "seq": 1}, qos=1)
    rows = wait_until(lambda: stub.admin.readings(topic="u4/live2"), timeout=5)
    c.close()
    assert [r["seq"] for r in rows] == [1]
    out = stub.output()
    assert "forged" in out and not any(line.startswith("erature") for line in out.splitlines())


def test_mosquitto_config_limits_message_size(tmp_path):
    if mq.find("mosquitto") is None:
        need("Mosquitto is not installed")
    with StubServer(tmp_path / "m", broker="mosquitto") as s:
        conf = (s.data_dir / "mosquitto" / "mosquitto.conf").read_text().splitlines()
    assert "message_size_limit 16384" in conf
