"""Broker authorisation and collection through both brokers of the stub.

The same scenarios run against the embedded amqtt broker and against a real
Mosquitto started by `neoc server --broker mosquitto`: the rules come from
one function (provisioning.acl), so both must behave the same.
"""
import json
import sys
import time

import pytest

from provisioning import mosquitto as mq
from provisioning.stub_process import StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from harness import need  # noqa: E402
from support.stub_helpers import mqtt_client, handshake, try_login, wait_until  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["embedded", "mosquitto"])
def stub(request, tmp_path_factory):
    if request.param == "mosquitto":
        if mq.find("mosquitto") is None:
            need("Mosquitto is not installed")
    else:
        pytest.importorskip("amqtt")
    s = StubServer(tmp_path_factory.mktemp("stub-" + request.param), broker=request.param)
    s.start()
    yield s
    s.stop()
    print(s.output())
    if request.param == "mosquitto":
        log = s.data_dir / "mosquitto" / "mosquitto.log"
        print(log.read_text() if log.exists() else "")


_counter = [0]


@pytest.fixture
def device(stub):
    """A registered device that did its handshake: (mac, login, password, base topic)."""
    _counter[0] += 1
    # Every MAC ends in 00:01: the readings' unitID auto_0001 is then this device's own.
    mac = "02:42:%02x:%02x:00:01" % (_counter[0] // 256, _counter[0] % 256)
    room = "r%d" % _counter[0]
    stub.admin.add_device(mac, location=("U4", room), modules=["temperature"])
    login, password, cfg = handshake(stub, mac)
    return mac, login, password, cfg["topics"][0]


def connect(stub, login, password, timeout=5.0):
    """Connect, retrying while a Mosquitto reload may still be pending; -> Observer."""
    deadline = time.monotonic() + timeout
    while True:
        c = mqtt_client(stub, login, password)
        if c.accepted or time.monotonic() > deadline:
            return c
        c.close()
        time.sleep(0.1)


def refused(stub, login, password, settle=1.0):
    """True when the broker refuses the login, polling while a Mosquitto reload is pending."""
    return bool(wait_until(lambda: not try_login(stub, login, password), timeout=settle))


def accepted(stub, login, password):
    """True once the broker accepts the login (Mosquitto reloads its files ~0.1 s after a change)."""
    return bool(wait_until(lambda: try_login(stub, login, password)))


def reading(value, seq, unit="auto_0001"):
    return {"value": value, "value_units": "celsius", "subID": "24", "unitID": unit, "seq": seq}


def test_device_reading_lands_in_api(stub, device):
    mac, login, password, base = device
    c = connect(stub, login, password)
    assert c.accepted
    c.publish(base + "/temperature", reading(21.375, 7))
    rows = wait_until(lambda: stub.admin.readings(topic=base))
    c.close()
    assert len(rows) == 1
    r = rows[0]
    assert r["topic"] == base + "/temperature"
    assert (r["building"], r["room"], r["module"]) == ("u4", base.split("/")[1], "temperature")
    assert (r["unitID"], r["subID"], r["value"], r["value_units"], r["seq"]) == ("auto_0001", "24", 21.375, "celsius", 7)
    assert abs(r["received_at"] - time.time()) < 30


def test_publishing_to_another_room_is_refused(stub, device):
    mac, login, password, base = device
    observer = mqtt_client(stub, *stub.collector_credentials())
    assert observer.subscribe("+/+/+") in (0, 1)
    c = connect(stub, login, password)
    c.publish("u4/elsewhere/temperature", reading(99.0, 1))
    c.publish(base + "/temperature", reading(20.0, 2))  # a marker that does get through
    assert observer.wait_for(lambda t, p: t == base + "/temperature")
    time.sleep(0.3)
    topics = [m.topic for m in observer.messages]
    observer.close()
    c.close()
    assert "u4/elsewhere/temperature" not in topics
    assert stub.admin.readings(topic="u4/elsewhere") == []
    assert [r["value"] for r in stub.admin.readings(topic=base)] == [20.0]


def test_subscribing_to_another_rooms_commands_is_refused(stub, device):
    """amqtt refuses the SUBSCRIBE (0x80); Mosquitto 2.0 grants the SUBACK but checks
    read access on every delivery. Either way, nothing of another room arrives."""
    mac, login, password, base = device
    other_mac, other_login, other_password, other_base = _other_device(stub)
    c = connect(stub, login, password)
    assert c.subscribe(base + "/+/command") in (0, 1)
    assert c.subscribe(base + "/device/command") in (0, 1)
    forbidden = [other_base + "/+/command", other_base + "/device/command", "+/+/+", "#", "+/+/+/command",
                 base + "/temperature"]
    codes = {topic: c.subscribe(topic) for topic in forbidden}
    if stub.broker == "embedded":
        assert set(codes.values()) == {0x80}, codes
    other = connect(stub, other_login, other_password)
    other.publish(other_base + "/temperature", reading(5.0, 1))
    stub.admin.order(other_mac, "status")
    stub.admin.order(mac, "status")  # the marker this device may receive
    assert c.wait_for(lambda t, p: t == base + "/device/command")
    time.sleep(0.3)
    c.close()
    other.close()
    # Overlapping subscriptions may deliver the marker twice (MQTT 3.1.1 allows it).
    assert {m.topic for m in c.messages} == {base + "/device/command"}


def test_device_does_not_receive_other_rooms_commands(stub, device):
    mac, login, password, base = device
    _, _, _, other_base = _other_device(stub)
    c = connect(stub, login, password)
    c.subscribe(base + "/+/command")
    stub.admin.order(_mac_of(stub, other_base), "status")
    stub.admin.order(mac, "frequency", 120)
    assert c.wait_for(lambda t, p: t == base + "/device/command")
    time.sleep(0.2)
    c.close()
    assert [m.topic for m in c.messages] == [base + "/device/command"]
    assert json.loads(c.messages[0].payload) == {"dest": mac.upper(), "order": "frequency", "value": 120}


def _other_device(stub):
    _counter[0] += 1
    mac = "02:43:%02x:%02x:00:01" % (_counter[0] // 256, _counter[0] % 256)
    stub.admin.add_device(mac, location=("U4", "o%d" % _counter[0]))
    login, password, cfg = handshake(stub, mac)
    return mac, login, password, cfg["topics"][0]


def _mac_of(stub, base):
    return next(d["mac"] for d in stub.admin.devices() if d["topic"] == base)


def test_reset_password_stops_the_old_one(stub, device):
    mac, login, password, base = device
    assert accepted(stub, login, password)
    stub.admin.reset_credentials(mac)
    assert refused(stub, login, password)
    _, new_password, _ = handshake(stub, mac)
    c = connect(stub, login, new_password)
    assert c.accepted
    c.publish(base + "/temperature", reading(18.5, 1))
    assert wait_until(lambda: stub.admin.readings(topic=base))
    c.close()
    assert not try_login(stub, login, password)


def test_disable_and_delete_take_effect_without_restart(stub, device):
    mac, login, password, base = device
    assert accepted(stub, login, password)
    stub.admin.disable(mac)
    assert refused(stub, login, password)
    stub.admin.enable(mac)
    assert accepted(stub, login, password)
    stub.admin.delete(mac)
    assert refused(stub, login, password)


def test_anonymous_and_wrong_password_refused(stub, device):
    mac, login, password, base = device
    assert accepted(stub, login, password)
    assert not try_login(stub, None, None)
    assert not try_login(stub, login, "not-the-password")
    assert not try_login(stub, login, "")
    assert not try_login(stub, "senso_ffffffffffff", password)


def test_device_status_is_recorded_and_moves_last_seen_to_its_receive_time(stub, device):
    """The handshake already set last_seen (credentials and config calls touch
    the device): the status must move it on, to the time the collector received it."""
    mac, login, password, base = device
    after_handshake = stub.admin.device(mac)["last_seen"]
    assert after_handshake is not None
    c = connect(stub, login, password)
    status = {"unitID": mac.lower(), "status": "running", "heap": 23456, "frequency": 1800,
              "modules": ["temperature"], "firmware": "260101", "time": "2026-11-25 12:00:00 +0000"}
    c.publish(base + "/device", status)
    got = wait_until(lambda: stub.admin.status(mac)["device"])
    c.close()
    assert got["status"] == "running" and got["heap"] == 23456
    last_seen = stub.admin.device(mac)["last_seen"]
    assert last_seen > after_handshake
    assert last_seen == got["received_at"]
    assert stub.admin.readings(topic=base) == []  # a status is not a reading


def test_bad_payloads_are_counted_not_stored(stub, device):
    mac, login, password, base = device
    before = stub.admin.collector()["counters"].get("invalid", 0)
    c = connect(stub, login, password)
    bad = [b"not json", b"[1, 2]", json.dumps({"unitID": "auto_0001"}), json.dumps({"value": 1}),
           json.dumps({"value": "hot", "unitID": "auto_0001"}), json.dumps({"value": [1], "unitID": "x"}),
           b"{\"value\": 1, \"unitID\": \"a\", " + b"\"pad\": \"" + b"x" * 40000 + b"\"}",
           b"\xff\xfe\x00"]
    for payload in bad:
        c.publish(base + "/temperature", payload)
    c.publish(base + "/temperature", reading(1.5, 3))
    assert wait_until(lambda: stub.admin.readings(topic=base))
    c.close()
    # Mosquitto drops the 40 KB one itself (message_size_limit): the collector never sees it.
    expected = len(bad) - (stub.broker == "mosquitto")
    stats = wait_until(lambda: (lambda s: s if s["counters"].get("invalid", 0) - before >= expected else None)(
        stub.admin.collector()))
    assert stats, stub.admin.collector()
    assert stats["counters"]["invalid"] - before == expected
    assert any(r["topic"] == base + "/temperature" for r in stats["recent_rejects"])
    assert [r["value"] for r in stub.admin.readings(topic=base)] == [1.5]
    assert stub.running()


def test_collector_account_observes_everything(stub, device):
    mac, login, password, base = device
    observer = mqtt_client(stub, *stub.collector_credentials())
    assert observer.accepted
    assert observer.subscribe("+/+/+") in (0, 1)
    c = connect(stub, login, password)
    c.publish(base + "/humidity", {"value": 45, "value_units": "%r.H.", "unitID": "auto_0001"})
    assert observer.wait_for(lambda t, p: t == base + "/humidity")
    observer.close()
    c.close()


def test_disabling_a_connected_device_stops_its_publishing(stub, device):
    """Mosquitto keeps the TCP session but re-reads the ACL on SIGHUP; the embedded
    broker drops the session. Either way nothing more from it is stored."""
    mac, login, password, base = device
    c = connect(stub, login, password)
    c.publish(base + "/temperature", reading(1.0, 1))
    assert wait_until(lambda: stub.admin.readings(topic=base))
    stub.admin.disable(mac)
    if stub.broker == "embedded":
        assert wait_until(lambda: not c.client.is_connected(), timeout=3)
    time.sleep(0.5)  # Mosquitto: coalesced rewrite + SIGHUP
    for seq in range(2, 5):
        if c.client.is_connected():
            c.client.publish(base + "/temperature", json.dumps(reading(2.0, seq)), qos=0)
    time.sleep(0.5)
    c.close()
    assert [r["seq"] for r in stub.admin.readings(topic=base)] == [1]


def test_huge_mqtt_payload_is_refused_and_collection_goes_on(stub, device):
    mac, login, password, base = device
    c = connect(stub, login, password)
    c.publish(base + "/temperature", b'{"unitID": "a", "value": 1, "pad": "' + b"x" * 300000 + b'"}')
    c.publish(base + "/temperature", reading(3.0, 9))
    assert wait_until(lambda: stub.admin.readings(topic=base))
    c.close()
    assert [r["seq"] for r in stub.admin.readings(topic=base)] == [9]
    if stub.broker == "embedded":
        assert any(r["reason"] == "payload too large" for r in stub.admin.collector()["recent_rejects"])
    # Mosquitto drops it itself (message_size_limit, the collector's limit): it never arrives.


def test_broker_changes_are_in_force_when_the_http_call_returns(stub):
    """No polling: the credentials answer is sent once the broker knows the password,
    and an admin call returns once the broker enforces it (Mosquitto: after reload)."""
    for i in range(5):
        _counter[0] += 1
        mac = "02:44:00:00:%02x:%02x" % (_counter[0] // 256, _counter[0] % 256)
        stub.admin.add_device(mac, location="u4/s%d" % _counter[0])
        login, password, _ = handshake(stub, mac)
        assert try_login(stub, login, password), i
        stub.admin.reset_credentials(mac)
        assert not try_login(stub, login, password), i
        _, password, _ = handshake(stub, mac)
        stub.admin.disable(mac)
        assert not try_login(stub, login, password), i
        stub.admin.enable(mac)
        assert try_login(stub, login, password), i


def test_module_orders_go_to_the_module_topic_and_unit(stub):
    _counter[0] += 1
    mac = "02:45:00:00:%02x:%02x" % (_counter[0] // 256, _counter[0] % 256)
    stub.admin.add_device(mac, location="u4/m%d" % _counter[0],
                          modules=[{"module": "temperature"}, {"module": "airquality", "unit": "aq"}])
    login, password, cfg = handshake(stub, mac)
    base = cfg["topics"][0]
    c = connect(stub, login, password)
    c.subscribe(base + "/+/command")
    hexmac = mac.replace(":", "")
    sent = [stub.admin.order(mac, "acquire", module="temperature"),
            stub.admin.order(mac, "frequency", 45, module="airquality"),
            stub.admin.order(mac, "status", module="luminosity", dest="all")]
    assert c.wait_for(lambda t, p: t == base + "/luminosity/command")
    time.sleep(0.2)
    c.close()
    got = {m.topic: json.loads(m.payload) for m in c.messages}
    assert got == {
        base + "/temperature/command": {"dest": "auto_" + hexmac[-4:], "order": "acquire"},
        base + "/airquality/command": {"dest": "aq_" + hexmac[-4:], "order": "frequency", "value": 45},
        base + "/luminosity/command": {"dest": "all", "order": "status"}}
    assert [s["topic"] for s in sent] == list(got)
