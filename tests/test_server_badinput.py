"""Hostile and malformed input to the stub's HTTP side: a clear 4xx, nothing stored, still up."""
import sys

import pytest
import requests

from provisioning.stub_process import StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from support.stub_helpers import handshake  # noqa: E402

SQLISH = ["aa:bb:cc:dd:ee:ff' OR '1'='1", "'; DROP TABLE devices; --", "aabbccddeeff;--",
          "aa:bb:cc:dd:ee:ff\x00", "%", "_", "aa:bb:cc:dd:ee:f%", "1 UNION SELECT login FROM devices"]


@pytest.fixture(scope="module")
def stub(tmp_path_factory):
    s = StubServer(tmp_path_factory.mktemp("stub"), broker="embedded")
    s.start()
    s.admin.add_device("02:00:00:00:00:01", location="u4/302", modules=["temperature"])
    yield s
    s.stop()
    print(s.output())


@pytest.fixture(autouse=True)
def nothing_changes(stub):
    before = stub.admin.devices()
    yield
    assert stub.running(), stub.output()
    after = stub.admin.devices()
    assert [d["mac"] for d in after] == [d["mac"] for d in before]


def api(stub, method, path, **kw):
    headers = kw.pop("headers", {})
    headers.setdefault("Authorization", "Bearer " + stub.token)
    return requests.request(method, stub.url + path, headers=headers, timeout=10, **kw)


@pytest.mark.parametrize("mac", SQLISH)
def test_sql_looking_macs_on_credentials(stub, mac):
    for r in [requests.get(stub.url + "/device/credentials", params={"mac": mac}, timeout=5),
              requests.post(stub.url + "/device/credentials", data={"mac": mac}, timeout=5)]:
        assert r.status_code == 403 and r.content == b""


@pytest.mark.parametrize("mac", SQLISH)
def test_sql_looking_macs_on_admin_api(stub, mac):
    r = api(stub, "POST", "/api/devices", json={"mac": mac, "location": "u4/302"})
    assert r.status_code == 400 and "MAC" in r.json()["error"]
    r = api(stub, "GET", "/api/devices/" + requests.utils.quote(mac, safe=""))
    assert r.status_code in (400, 404)
    r = api(stub, "DELETE", "/api/devices/" + requests.utils.quote(mac, safe=""))
    assert r.status_code in (400, 404)


def test_sql_looking_names_are_just_names(stub):
    r = api(stub, "POST", "/api/devices", json={"mac": "02:00:00:00:00:77",
                                                 "building": "Robert'); DROP TABLE devices;--", "room": "x"})
    assert r.status_code == 201
    assert r.json()["topic"] == "robert____drop_table_devices___/x"
    assert stub.admin.device("02:00:00:00:00:77")["building"] == "Robert'); DROP TABLE devices;--"
    stub.admin.delete("02:00:00:00:00:77")
    assert api(stub, "GET", "/api/readings", params={"topic": "' OR 1=1 --"}).json() == []


@pytest.mark.parametrize("body,ctype", [
    (b"{not json", "application/json"), (b"[1, 2, 3]", "application/json"), (b"\xff\xfe", "application/json"),
    (b'{"mac": 12, "location": "u4/302"}', "application/json"),
    (b'{"location": "u4/302"}', "application/json"),
    (b'{"mac": "02:00:00:00:00:02", "location": "no-slash"}', "application/json"),
    (b'{"mac": "02:00:00:00:00:02", "location": "a/b/c"}', "application/json"),
    (b'{"mac": "02:00:00:00:00:02", "location": "u4/302", "kind": "toaster"}', "application/json"),
    (b'{"mac": "02:00:00:00:00:02", "location": "u4/302", "modules": ["Coffee Machine!"]}', "application/json"),
    (b'{"mac": "02:00:00:00:00:02", "location": "u4/302", "modules": [{"module": "temperature", "frequency": -5}]}',
     "application/json"),
    (b'{"mac": "02:00:00:00:00:02", "location": "u4/302", "modules": [{"module": "temperature", "frequency": "60"}]}',
     "application/json"),
    (b'{"mac": "02:00:00:00:00:02", "location": "u4/302", "modules": [{"module": "noise", "params": [1]}]}',
     "application/json"),
    (b'{"mac": "02:00:00:00:00:02", "location": "u4/302", "modules": "temperature"}', "application/json"),
    (b'{"mac": "02:00:00:00:00:02", "location": "u4/302", "port": 99999}', "application/json"),
])
def test_malformed_admin_bodies_get_400(stub, body, ctype):
    r = api(stub, "POST", "/api/devices", data=body, headers={"Content-Type": ctype})
    assert r.status_code == 400, r.text
    assert r.json()["error"]


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None])
def test_wrong_content_type_gets_415(stub, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    r = api(stub, "POST", "/api/devices", data=b'{"mac": "02:00:00:00:00:03", "location": "u4/302"}',
            headers=headers)
    assert r.status_code == 415


def test_duplicate_device_gets_400(stub):
    r = api(stub, "POST", "/api/devices", json={"mac": "02-00-00-00-00-01", "location": "u4/302"})
    assert r.status_code == 400 and "already" in r.json()["error"]


def test_huge_bodies_get_413(stub):
    big = b'{"mac": "02:00:00:00:00:04", "location": "u4/302", "pad": "' + b"x" * 200000 + b'"}'
    r = api(stub, "POST", "/api/devices", data=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = requests.post(stub.url + "/device/credentials", data={"mac": "x" * 200000}, timeout=10)
    assert r.status_code in (403, 413)


def test_huge_query_string_is_refused(stub):
    r = requests.get(stub.url + "/device/credentials", params={"mac": "a" * 20000}, timeout=10)
    assert 400 <= r.status_code < 500


def test_bad_readings_queries(stub):
    for params in [{"limit": "ten"}, {"since": "yesterday-ish"}, {"after": "1; DROP"}]:
        r = api(stub, "GET", "/api/readings", params=params)
        assert r.status_code == 400 and r.json()["error"], params


def test_bad_orders(stub):
    for body in [{}, {"order": ""}, {"order": 5}, {"order": "x" * 100}, {"order": "status", "module": "../#"},
                 {"order": "status", "module": "+"}, {"order": "status", "dest": 7}, {"order": "status", "dest": ""}]:
        r = api(stub, "POST", "/api/devices/02:00:00:00:00:01/order", json=body)
        assert r.status_code == 400, body
    assert api(stub, "POST", "/api/devices/02:00:00:00:00:09/order", json={"order": "status"}).status_code == 404


def test_bad_updates(stub):
    for body in [{"login": "root"}, {"enabled": "yes"}, {"password_hash": "x"}, {"kind": "toaster"}]:
        r = api(stub, "PATCH", "/api/devices/02:00:00:00:00:01", json=body)
        assert r.status_code == 400, body
    assert stub.admin.device("02:00:00:00:00:01")["enabled"] is True


def test_bad_logger_posts(stub):
    if not stub.admin.device("02:00:00:00:00:01")["password_pending"]:
        stub.admin.reset_credentials("02:00:00:00:00:01")  # the next handshake gets a password again
    login, password, _ = handshake(stub, "02:00:00:00:00:01")
    url = stub.url + "/device/logger"
    assert requests.post(url, json={"msg": "hi"}, auth=(login, password), timeout=5).status_code == 415
    assert requests.post(url, data={"levelno": "40"}, auth=(login, password), timeout=5).status_code == 400
    assert requests.post(url, data={"msg": "x", "lineno": "abc"}, auth=(login, password), timeout=5).status_code == 400
    r = requests.post(url, data={"msg": "m" * 60000}, auth=(login, password), timeout=5)
    assert r.status_code == 200
    logs = stub.admin.logs("02:00:00:00:00:01")
    assert len(logs) == 1 and len(logs[0]["msg"]) == 4096  # truncated, not refused


def test_unknown_paths_and_methods(stub):
    assert requests.get(stub.url + "/device/nothing", timeout=5).status_code == 404
    assert requests.delete(stub.url + "/device/credentials", timeout=5).status_code == 405
    assert api(stub, "PUT", "/api/devices").status_code == 405
