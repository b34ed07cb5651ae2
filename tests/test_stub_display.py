"""Display accounts: a registered device of kind "display" may read the readings of
the rooms listed for it, publish only its own `device` status, and nothing else,
on both brokers of the stub (the rules come from provisioning.acl)."""
import json
import os
import subprocess
import sys
import time

import pytest
import requests

from provisioning import acl
from provisioning import mosquitto as mq
from provisioning.stub_process import StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from harness import need  # noqa: E402
from support.stub_helpers import handshake, mqtt_client, wait_until  # noqa: E402

RULES = acl.rules([("senso_d", "u4/hall", True, ["u4/302", "u4/303"]), ("senso_s", "u4/302", True),
                   ("senso_off", "u4/hall", False, ["u4/302"])])


@pytest.mark.parametrize("user,action,topic,ok", [
    ("senso_d", "subscribe", "u4/302/+", True),
    ("senso_d", "subscribe", "u4/303/temperature", True),
    ("senso_d", "receive", "u4/302/temperature", True),
    ("senso_d", "subscribe", "u4/304/+", False),
    ("senso_d", "subscribe", "u4/+/+", False),
    ("senso_d", "subscribe", "u4/302/#", False),
    ("senso_d", "subscribe", "u4/302/+/command", False),
    ("senso_d", "publish", "u4/302/temperature", False),
    ("senso_d", "publish", "u4/302/temperature/command", False),
    ("senso_d", "publish", "u4/hall/temperature", False),
    ("senso_d", "publish", "u4/hall/device", True),
    ("senso_d", "subscribe", "u4/hall/device/command", True),
    ("senso_d", "subscribe", "u4/hall/temperature/command", False),
    ("senso_off", "subscribe", "u4/302/+", False),
    ("senso_off", "publish", "u4/hall/device", False),
])
def test_display_rules(user, action, topic, ok):
    assert acl.allowed(RULES, user, action, topic) is ok


def test_display_rules_render_for_mosquitto():
    text = acl.to_mosquitto_acl(acl.account_rules("senso_d", "u4/hall", True, ["u4/302"])).render()
    assert text.splitlines() == ["user senso_d", "topic write u4/hall/device", "topic read u4/hall/device/command",
                                 "topic read u4/302/+"]


@pytest.fixture(scope="module", params=["mosquitto", "embedded"])
def stub(request, tmp_path_factory):
    if request.param == "mosquitto":
        if mq.find("mosquitto") is None:
            need("Mosquitto is not installed: `sudo apt-get install mosquitto`")
    else:
        pytest.importorskip("amqtt")
    s = StubServer(tmp_path_factory.mktemp("display-" + request.param), broker=request.param)
    s.start()
    yield s
    s.stop()
    print(s.output())


def neoc(stub, *args):
    env = dict(os.environ, NEOC_SERVER=stub.url, NEOC_TOKEN=stub.token)
    return subprocess.run([sys.executable, "-m", "neoc", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def connect(stub, login, password, timeout=5.0):
    """Connect, retrying while a Mosquitto reload may still be pending."""
    deadline = time.monotonic() + timeout
    while True:
        c = mqtt_client(stub, login, password)
        if c.accepted or time.monotonic() > deadline:
            return c
        c.close()
        time.sleep(0.1)


def test_display_is_registered_from_the_shell(stub):
    mac = "02:d1:00:00:00:01"
    p = neoc(stub, "device", "add", mac, "--location", "U4/Hall", "--kind", "display",
             "--rooms", "U4/302,U4/Salle 303", "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    d = json.loads(p.stdout)
    assert (d["kind"], d["topic"], d["rooms"]) == ("display", "u4/hall", ["u4/302", "u4/salle_303"])
    _, _, cfg = handshake(stub, mac)
    assert cfg["topics"] == ["u4/hall"] and cfg["rooms"] == ["u4/302", "u4/salle_303"]
    # Without --rooms a display shows its own room; a sensor has no rooms at all.
    p = neoc(stub, "device", "add", "02:d1:00:00:00:02", "--location", "U4/Hall2", "--kind", "display", "--json")
    assert json.loads(p.stdout)["rooms"] == ["u4/hall2"]
    p = neoc(stub, "device", "add", "02:d1:00:00:00:03", "--location", "U4/302", "--rooms", "U4/303")
    assert p.returncode != 0 and "--rooms is for --kind display" in p.stderr
    r = requests.post(stub.url + "/api/devices", headers={"Authorization": "Bearer " + stub.token},
                      json={"mac": "02:d1:00:00:00:04", "location": "u4/302", "rooms": ["u4/303"]}, timeout=5)
    assert r.status_code == 400 and "only a display has rooms" in r.json()["error"]
    changed = stub.admin.update("02:d1:00:00:00:02", rooms=["U4/305"])
    assert changed["rooms"] == ["u4/305"]


def test_display_reads_its_rooms_and_publishes_only_its_status(stub):
    sensor_mac, other_mac, display_mac = "02:d2:00:00:03:02", "02:d2:00:00:03:04", "02:d2:00:00:0d:01"
    stub.admin.add_device(sensor_mac, location="u4/d302", modules=["temperature"])
    stub.admin.add_device(other_mac, location="u4/d304", modules=["temperature"])
    stub.admin.add_device(display_mac, location="u4/dhall", kind="display", rooms=["u4/d302"])
    sensor = connect(stub, *handshake(stub, sensor_mac)[:2])
    other = connect(stub, *handshake(stub, other_mac)[:2])
    d_login, d_password, _ = handshake(stub, display_mac)
    display = connect(stub, d_login, d_password)
    assert display.accepted
    observer = mqtt_client(stub, *stub.collector_credentials())
    assert observer.subscribe("+/+/+") in (0, 1)
    assert sensor.subscribe("u4/d302/+/command") in (0, 1)
    assert display.subscribe("u4/d302/+") in (0, 1)
    # Mosquitto 2.0 grants a SUBACK for a filter it will never deliver on; amqtt refuses it.
    code = display.subscribe("u4/d304/+")
    assert code == 0x80 if stub.broker == "embedded" else code in (0, 1, 0x80)

    mark = display.mark()
    display.publish("u4/d302/temperature", {"value": 99.0, "unitID": "auto_0302", "subID": "24", "seq": 1})
    display.publish("u4/d302/temperature/command", {"dest": "all", "order": "reboot"})
    display.publish("u4/dhall/temperature", {"value": 1.0, "unitID": "auto_0d01", "subID": "24", "seq": 1})
    status = {"unitID": display_mac, "status": "running", "frequency": 1800}
    display.publish("u4/dhall/device", status)
    other.publish("u4/d304/temperature", {"value": 4.0, "unitID": "auto_0304", "subID": "24", "seq": 1})
    sensor.publish("u4/d302/temperature", {"value": 21.5, "unitID": "auto_0302", "subID": "24", "seq": 2})

    got = display.wait_for(lambda t, p: t == "u4/d302/temperature" and json.loads(p)["value"] == 21.5,
                           what="the sensor's reading at the display")
    assert observer.wait_for(lambda t, p: t == "u4/dhall/device", what="the display's status")
    assert wait_until(lambda: stub.admin.status(display_mac)["device"])["status"] == "running"
    time.sleep(0.3)  # anything the broker wrongly let through would be here by now
    seen = [(m.topic, json.loads(m.payload).get("value")) for m in observer.messages]
    at_display = [(m.topic, json.loads(m.payload).get("value")) for m in display.messages[mark:]]
    for c in (sensor, other, display, observer):
        c.close()
    assert got
    assert ("u4/d302/temperature", 99.0) not in seen
    assert not any(t == "u4/dhall/temperature" for t, _ in seen)
    assert sensor.messages == []  # the display's forged order never reached the room
    assert at_display == [("u4/d302/temperature", 21.5)]
    assert [r["value"] for r in stub.admin.readings(topic="u4/d302")] == [21.5]
    assert stub.admin.readings(topic="u4/dhall") == []
