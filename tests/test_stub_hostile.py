"""One registered device attacking the others (issue 19, parts 2 and 3), on both brokers:
bad messages that once broke whole batches, statuses and readings under another
device's identity, client-id takeovers, and a disabled or reset device's session."""
import json
import sqlite3
import sys
import time

import paho.mqtt.client as mqtt
import pytest

from provisioning import mosquitto as mq
from provisioning.collector import Invalid, classify
from provisioning.registry import Registry
from provisioning.stub_process import StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from harness import need  # noqa: E402
from support.stub_helpers import handshake, mqtt_client, wait_until  # noqa: E402

NESTED = b'{"unitID": "auto_0001", "value": 1, "x": ' + b"[" * 8000 + b"]" * 8000 + b"}"
BAD = {
    "seq beyond SQLite's INTEGER": b'{"unitID": "auto_0001", "value": 1, "seq": 9223372036854775808}',
    "negative seq": b'{"unitID": "auto_0001", "value": 1, "seq": -1}',
    "value beyond SQLite's INTEGER": b'{"unitID": "auto_0001", "value": 99999999999999999999}',
    "lone surrogate in subID": b'{"unitID": "auto_0001", "value": 1, "subID": "\\ud800"}',
    "lone surrogate in unitID": b'{"unitID": "auto_\\ud800", "value": 1}',
    "lone surrogate in value_units": b'{"unitID": "auto_0001", "value": 1, "value_units": "\\ud800"}',
    "NUL in unitID": b'{"unitID": "auto_0001\\u0000", "value": 1}',
    "newline in subID": b'{"unitID": "auto_0001", "value": 1, "subID": "24\\nforged"}',
    "nested 8000 deep": NESTED,
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_classify_refuses_what_sqlite_or_a_log_cannot_take(name):
    assert len(BAD[name]) < 16 * 1024
    with pytest.raises(Invalid):
        classify("u4/302/temperature", BAD[name])


def test_a_row_sqlite_refuses_costs_only_itself(tmp_path):
    reg = Registry(tmp_path / "r.sqlite3")
    good = [("u4/1/temperature", "u4", "1", "temperature", "auto_0001", "24", "1.0", "celsius", seq, 1.0)
            for seq in range(5)]
    bad = ("u4/1/temperature", "u4", "1", "temperature", "auto_0001", "24", "1.0", "celsius", 2 ** 64, 1.0)
    stored, refused = reg.store_batch(good[:2] + [bad] + good[2:], [])
    assert (stored, refused) == (5, [2])
    # A redelivery is stored once.
    assert reg.store_batch(good, []) == (0, [])
    assert reg.count_readings() == 5


@pytest.fixture(scope="module", params=["embedded", "mosquitto"])
def stub(request, tmp_path_factory):
    if request.param == "mosquitto":
        if mq.find("mosquitto") is None:
            need("Mosquitto is not installed: `sudo apt-get install mosquitto`")
    else:
        pytest.importorskip("amqtt")
    s = StubServer(tmp_path_factory.mktemp("hostile-" + request.param), broker=request.param)
    s.start()
    yield s
    s.stop()
    print(s.output())


_n = [0]


def _device(stub, room=None):
    """(mac, login, password, base) of a new device that did its handshake; MAC ends in 00:01."""
    _n[0] += 1
    mac = "02:c0:%02x:%02x:00:01" % (_n[0] // 256, _n[0] % 256)
    stub.admin.add_device(mac, location="u4/" + (room or "h%d" % _n[0]), modules=["temperature"])
    login, password, cfg = handshake(stub, mac)
    return mac, login, password, cfg["topics"][0]


def connect(stub, login, password, client_id=None, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        c = mqtt_client(stub, login, password, client_id=client_id)
        if c.accepted or time.monotonic() > deadline:
            return c
        c.close()
        time.sleep(0.1)


def reading(seq, value=20.5):
    return {"value": value, "value_units": "celsius", "subID": "24", "unitID": "auto_0001", "seq": seq}


@pytest.mark.slow
def test_bad_messages_between_good_readings_cost_nothing(stub):
    _, a_login, a_password, a_base = _device(stub)
    _, b_login, b_password, b_base = _device(stub)
    _, x_login, x_password, x_base = _device(stub)
    a, b, x = (connect(stub, a_login, a_password), connect(stub, b_login, b_password),
               connect(stub, x_login, x_password))
    before = stub.admin.collector()["counters"].get("invalid", 0)
    seq = 0
    for name in sorted(BAD):
        for _ in range(2):
            a.publish(a_base + "/temperature", reading(seq), qos=0)
            b.publish(b_base + "/temperature", reading(seq), qos=0)
            seq += 1
        x.publish(x_base + "/temperature", BAD[name], qos=0)
    a.publish(a_base + "/temperature", reading(seq))
    b.publish(b_base + "/temperature", reading(seq))
    seq += 1
    got = wait_until(lambda: len(stub.admin.readings(topic=a_base)) == seq
                     and len(stub.admin.readings(topic=b_base)) == seq, timeout=10)
    for c in (a, b, x):
        c.close()
    stats = stub.admin.collector()
    assert got, stats
    assert sorted(r["seq"] for r in stub.admin.readings(topic=a_base)) == list(range(seq))
    assert sorted(r["seq"] for r in stub.admin.readings(topic=b_base)) == list(range(seq))
    assert stub.admin.readings(topic=x_base) == []
    assert stats["counters"]["invalid"] - before == len(BAD)
    assert "batch errors" not in stats["counters"]


@pytest.mark.slow
def test_a_device_cannot_speak_as_another(stub):
    a_mac, a_login, a_password, a_base = _device(stub)
    b_mac, b_login, b_password, b_base = _device(stub)
    b_seen = stub.admin.device(b_mac)["last_seen"]
    a = connect(stub, a_login, a_password)
    before = stub.admin.collector()["counters"].get("invalid: unitID not of a device at this location", 0)
    # A's room, B's identity in a status; a reading of a unit no device here has.
    a.publish(a_base + "/device", {"unitID": b_mac.lower(), "status": "running", "heap": 1})
    a.publish(a_base + "/temperature", {"value": 99.0, "unitID": "auto_beef", "subID": "24", "seq": 1})
    a.publish(a_base + "/device", {"unitID": a_mac.lower(), "status": "running", "heap": 2})  # a marker
    assert wait_until(lambda: stub.admin.status(a_mac)["device"])
    a.close()
    counters = stub.admin.collector()["counters"]
    assert counters.get("invalid: unitID not of a device at this location", 0) - before == 2
    assert stub.admin.status(b_mac)["device"] is None
    assert stub.admin.device(b_mac)["last_seen"] == b_seen
    assert stub.admin.readings(topic=a_base) == []


@pytest.mark.slow
def test_client_id_of_the_collector_or_another_device_takes_nothing_over(stub):
    """amqtt refuses the CONNECT (identifier rejected); Mosquitto replaces the id by the
    login (use_username_as_clientid). Either way the victims keep their sessions."""
    _, a_login, a_password, a_base = _device(stub)
    b_mac, b_login, b_password, b_base = _device(stub)
    victim = connect(stub, b_login, b_password, client_id="neOSensor_" + b_mac.replace(":", "").lower())
    assert victim.accepted
    for stolen in ("neoc_collector", "neoc-collector", "neOSensor_" + b_mac.replace(":", "").lower()):
        intruder = mqtt_client(stub, a_login, a_password, client_id=stolen)
        if stub.broker == "embedded":
            assert not intruder.accepted and "identifier" in str(intruder.connack)
        time.sleep(1.0)
        intruder.close()
    # Unauthenticated, with the collector's id: refused, and nothing is taken over either.
    stranger = mqtt_client(stub, "neoc_collector", "guess", client_id="neoc_collector")
    assert not stranger.accepted
    stranger.close()
    assert victim.client.is_connected()
    for seq in range(50):
        victim.publish(b_base + "/temperature", reading(seq), qos=1)
    got = wait_until(lambda: len(stub.admin.readings(topic=b_base)) == 50, timeout=10)
    victim.close()
    assert got, stub.admin.collector()
    assert stub.admin.collector()["connected"] is True


@pytest.mark.slow
@pytest.mark.parametrize("how", ["disable", "reset_credentials"])
def test_disable_or_reset_closes_the_session(stub, how):
    mac, login, password, base = _device(stub)
    c = connect(stub, login, password)
    c.publish(base + "/temperature", reading(0))
    assert wait_until(lambda: stub.admin.readings(topic=base))
    getattr(stub.admin, how)(mac)
    # The broker closes the TCP session (a fraction of a second here; the wait only bounds the test).
    closed = wait_until(lambda: not c.client.is_connected(), timeout=3.0)
    sent = 0
    for seq in range(1, 101):
        if c.client.is_connected():
            c.client.publish(base + "/temperature", json.dumps(reading(seq)), qos=0)
            sent += 1
    time.sleep(0.5)
    c.close()
    assert closed, "the %s device is still connected" % how
    assert [r["seq"] for r in stub.admin.readings(topic=base)] == [0]
