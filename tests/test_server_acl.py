"""The one set of broker rules, its Mosquitto rendering, hashes, and the collector's validation."""
import json
import subprocess

import pytest

from harness import need

from provisioning import acl, passwords
from provisioning.collector import Invalid, classify
from provisioning.mosquitto import find


@pytest.mark.parametrize("building,room,topic", [
    ("Bâtiment U4", "Salle 302-B", "batiment_u4/salle_302_b"), ("IRIT2", "366", "irit2/366"),
    ("  U4 ", "CampusFab", "u4/campusfab"), ("Maison de l'Étudiant", "Hall #1", "maison_de_l_etudiant/hall__1"),
    ("U3", "a+b/c", "u3/a_b_c"), ("Straße", "Ørsted", "stra_e/_rsted")])
def test_location_topic(building, room, topic):
    assert acl.location_topic(building, room) == topic


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_location_needs_names(bad):
    with pytest.raises(ValueError):
        acl.location_topic(bad, "302")


RULES = acl.rules([("senso_a", "u4/302", True), ("senso_b", "u4/303", True), ("senso_off", "u4/304", False)])


@pytest.mark.parametrize("user,action,topic,ok", [
    ("senso_a", "publish", "u4/302/temperature", True),
    ("senso_a", "publish", "u4/302/device", True),
    ("senso_a", "publish", "u4/303/temperature", False),
    ("senso_a", "publish", "u4/302/temperature/command", False),
    ("senso_a", "publish", "u4/302", False),
    ("senso_a", "subscribe", "u4/302/+/command", True),
    ("senso_a", "subscribe", "u4/302/device/command", True),
    ("senso_a", "receive", "u4/302/device/command", True),
    ("senso_a", "subscribe", "u4/303/+/command", False),
    ("senso_a", "subscribe", "u4/+/+/command", False),
    ("senso_a", "subscribe", "u4/302/#", False),
    ("senso_a", "subscribe", "#", False),
    ("senso_a", "subscribe", "u4/302/temperature", False),
    ("senso_a", "receive", "u4/303/device/command", False),
    ("senso_off", "publish", "u4/304/temperature", False),
    ("senso_off", "subscribe", "u4/304/+/command", False),
    (acl.COLLECTOR_USER, "subscribe", "+/+/+", True),
    (acl.COLLECTOR_USER, "receive", "u4/302/temperature", True),
    (acl.COLLECTOR_USER, "subscribe", "#", False),
    (acl.COLLECTOR_USER, "publish", "u4/302/device/command", True),
    (acl.COLLECTOR_USER, "publish", "u4/302/temperature/command", True),
    (acl.COLLECTOR_USER, "publish", "u4/302/temperature/command/x", False),
    (acl.COLLECTOR_USER, "publish", "u4/302/temperature", False),
    (None, "publish", "u4/302/temperature", False),
    ("", "subscribe", "+/+/+", False),
])
def test_rules(user, action, topic, ok):
    assert acl.allowed(RULES, user, action, topic) is ok


def test_mosquitto_acl_file_renders_the_same_rules():
    text = acl.to_mosquitto_acl(RULES).render()
    assert "user senso_a\ntopic write u4/302/+\ntopic read u4/302/+/command\n" in text
    assert "user %s\ntopic read +/+/+\ntopic write +/+/+/command\n" % acl.COLLECTOR_USER in text
    assert "senso_off" not in text


def test_password_hashes():
    pw = passwords.new_password()
    assert len(pw) == 36
    h = passwords.registry_hash(pw)
    assert pw not in h and passwords.registry_verify(pw, h) and not passwords.registry_verify(pw + "x", h)
    assert passwords.registry_hash(pw) != h  # salted
    m = passwords.mosquitto_hash(pw)
    assert m.startswith("$7$1$") and passwords.mosquitto_verify(pw, m)
    assert not passwords.mosquitto_verify("nope", m)
    for garbage in ["", "$7$", "$6$abc$def", "pbkdf2_sha256$x$y$z", None]:
        assert not passwords.registry_verify(pw, garbage)
        assert not passwords.mosquitto_verify(pw, garbage)


def test_mosquitto_hash_format_matches_mosquitto_passwd(tmp_path):
    tool = find("mosquitto_passwd")
    if tool is None:
        need("mosquitto_passwd not installed: apt-get install mosquitto")
    f = tmp_path / "pw"
    f.write_text("u:s3cret-uuid\n")
    subprocess.run([tool, "-U", str(f)], check=True)
    theirs = f.read_text().strip().split(":", 1)[1]
    assert theirs.startswith("$7$101$")
    assert passwords.mosquitto_verify("s3cret-uuid", theirs)
    assert not passwords.mosquitto_verify("s3cret-uuie", theirs)
    # Ours (one iteration) in a real Mosquitto's password file: the right password in, a wrong one out.
    import types
    from provisioning.mosquitto import Mosquitto
    from support.stub_helpers import try_login
    with Mosquitto(tmp_path / "m", hashed_users={"u": passwords.mosquitto_hash("s3cret-uuid")}) as m:
        where = types.SimpleNamespace(mqtt_host=m.host, mqtt_port=m.port)
        answers = [try_login(where, "u", pw) for pw in ("s3cret-uuid", "s3cret-uuie")]
    assert answers == [True, False]


def test_classify_readings_and_statuses():
    kind, r = classify("u4/302/temperature", json.dumps(
        {"value": 21.375, "value_units": "celsius", "subID": "24", "unitID": "auto_92f8", "seq": 5,
         "timestamp": 1765000000.25}).encode())
    assert kind == "reading"
    assert r == {"topic": "u4/302/temperature", "building": "u4", "room": "302", "module": "temperature",
                 "unitID": "auto_92f8", "subID": "24", "value": 21.375, "value_units": "celsius", "seq": 5,
                 "timestamp": 1765000000.25}
    kind, r = classify("u4/302/digital", b'{"value": true, "input": 4, "type": "presence", "unitID": "auto_1"}')
    assert kind == "reading" and r["value"] is True and r["subID"] is None and r["seq"] is None
    assert r["timestamp"] is None  # absent (a board before NTP): no lag measured from it
    assert classify("u4/302/device", b'{"unitID": "aa:bb:cc:dd:ee:ff", "status": "running"}')[0] == "status"
    assert classify("u4/302/temperature", b'{"unitID": "auto_1", "frequency": 60, "sensors": 1}')[0] == "status"
    assert classify("_internal/x/y", b"junk")[0] == "ignored"
    assert classify("TestTopic/ap/temperature", b"junk")[0] == "ignored"


@pytest.mark.parametrize("topic,payload,reason", [
    ("u4/302/temperature", b"nope", "bad json"),
    ("u4/302/temperature", b"\xff", "bad json"),
    ("u4/302/temperature", b"42", "not an object"),
    ("u4/302/temperature", b'{"value": 1}', "unitID"),
    ("u4/302/temperature", b'{"unitID": "a"}', "missing value"),
    ("u4/302/temperature", b'{"unitID": "a", "value": "21"}', "number"),
    ("u4/302/temperature", b'{"unitID": "a", "value": null}', "number"),
    ("u4/302/temperature", b'{"unitID": "a", "value": NaN}', "number"),
    ("u4/302/temperature", b'{"unitID": "a", "value": 1, "seq": "3"}', "seq"),
    ("u4/302/temperature", b'{"unitID": "a", "value": 1, "subID": {"x": 1}}', "subID"),
    ("u4/302/temperature", b'{"unitID": "a", "value": 1, "value_units": 5}', "value_units"),
    ("u4/302/temperature", b'{"unitID": 5, "value": 1}', "unitID"),
    ("u4/302/temperature", b'{"unitID": "a", "value": 1, "x": "' + b"y" * 20000 + b'"}', "too large"),
    ("u4/temperature", b'{"unitID": "a", "value": 1}', "topic"),
])
def test_classify_rejects(topic, payload, reason):
    with pytest.raises(Invalid) as exc:
        classify(topic, payload)
    assert reason in str(exc.value)
