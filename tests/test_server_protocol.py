"""The stub against the protocol document (docs/sensocampus-protocol.md), line by line."""
import sys

import pytest
import requests


sys.path.insert(0, __file__.rsplit("/", 1)[0])
from support.stub_helpers import handshake  # noqa: E402

MAC = "aa:bb:cc:dd:ee:ff"


@pytest.fixture
def mac(request):
    # A fresh MAC per test from the test's name, so module-scoped state never leaks.
    h = "%012x" % (abs(hash(request.node.name)) % (1 << 48))
    return ":".join(h[i:i + 2] for i in range(0, 12, 2))


def get(stub, path, **kw):
    return requests.get(stub.url + path, timeout=5, **kw)


def test_unknown_mac_gets_403_with_empty_body(stub):
    r = get(stub, "/device/credentials", params={"mac": "02:00:00:00:00:99"})
    assert r.status_code == 403
    assert r.content == b""


def test_no_self_registration(stub):
    for _ in range(2):
        assert get(stub, "/device/credentials", params={"mac": "02:00:00:00:00:98"}).status_code == 403
    assert all(d["mac"] != "02:00:00:00:00:98".upper() for d in stub.admin.devices())


def test_credentials_login_and_password_once(stub, mac):
    stub.admin.add_device(mac, location="u4/302")
    first = get(stub, "/device/credentials", params={"mac": mac}).json()
    hexmac = mac.replace(":", "").lower()
    assert first["login"] == "senso_" + hexmac
    password = first["password"]
    import uuid
    assert str(uuid.UUID(password)) == password and uuid.UUID(password).version == 4
    second = get(stub, "/device/credentials", params={"mac": mac})
    assert second.status_code == 200
    # No password; the stub's own broker, as on the first call (test_server_advertise.py).
    assert second.json() == {"login": "senso_" + hexmac, "server": stub.mqtt_host, "port": stub.mqtt_port}
    # The first password still works after the second call.
    assert get(stub, "/device/config", auth=(first["login"], password)).status_code == 200


@pytest.mark.parametrize("form", ["lower:colons", "UPPER:COLONS", "dashes", "bare", "BARE-UPPER", "mixed"])
def test_mac_formats_all_name_the_same_device(stub, mac, form):
    stub.admin.add_device(mac, location="u4/302")
    h = mac.replace(":", "")
    variants = {"lower:colons": mac.lower(), "UPPER:COLONS": mac.upper(), "dashes": mac.replace(":", "-"),
                "bare": h.lower(), "BARE-UPPER": h.upper(), "mixed": h[:6].upper() + h[6:].lower()}
    r = get(stub, "/device/credentials", params={"mac": variants[form]})
    assert r.status_code == 200
    assert r.json()["login"] == "senso_" + h.lower()
    assert stub.admin.device(mac)["mac"] == mac.upper()  # stored uppercase with colons


def test_credentials_by_post_form(stub, mac):
    stub.admin.add_device(mac, location="u4/302")
    r = requests.post(stub.url + "/device/credentials", data={"mac": mac.replace(":", "-").upper()}, timeout=5)
    assert r.status_code == 200 and "password" in r.json()


def test_reset_delivers_new_password_and_kills_old(stub, mac):
    stub.admin.add_device(mac, location="u4/302")
    login, old, _ = handshake(stub, mac)
    stub.admin.reset_credentials(mac)
    assert get(stub, "/device/config", auth=(login, old)).status_code == 403
    again = get(stub, "/device/credentials", params={"mac": mac}).json()
    assert again["login"] == login and again["password"] != old
    assert get(stub, "/device/config", auth=(login, again["password"])).status_code == 200
    assert "password" not in get(stub, "/device/credentials", params={"mac": mac}).json()


def test_server_and_port_are_the_override_else_the_stubs_broker(stub, mac):
    other = mac[:-2] + ("00" if mac[-2:] != "00" else "01")
    stub.admin.add_device(mac, location="u4/302", server="broker.example", port=8883)
    stub.admin.add_device(other, location="u4/302")
    with_override = get(stub, "/device/credentials", params={"mac": mac}).json()
    assert with_override["server"] == "broker.example" and with_override["port"] == 8883
    plain = get(stub, "/device/credentials", params={"mac": other}).json()
    assert (plain["server"], plain["port"]) == (stub.mqtt_host, stub.mqtt_port)


def test_config_topics_and_zones_shape(stub, mac):
    modules = [{"module": "temperature", "frequency": 60, "unit": "inside", "driver": "mcp9808",
                "params": [{"param": "address", "value": 24}]},
               {"module": "luminosity", "frequency": 30}]
    stub.admin.add_device(mac, location=("Bâtiment U4", "Salle 302-B"), modules=modules)
    _, _, cfg = handshake(stub, mac)
    assert cfg["topics"] == ["batiment_u4/salle_302_b"]
    assert len(cfg["zones"]) == 1
    zone = cfg["zones"][0]
    assert zone["topic"] == "batiment_u4/salle_302_b"
    temp, lum = zone["modules"]
    assert temp == {"module": "temperature", "unit": "inside", "frequency": 60, "driver": "mcp9808",
                    "params": [{"param": "address", "value": 24}]}
    assert lum["module"] == "luminosity" and lum["frequency"] == 30 and lum["params"] == []


@pytest.mark.parametrize("building,room,topic", [
    ("IRIT2", "366", "irit2/366"), ("U4", "302", "u4/302"), ("Bâtiment U4", "Salle 302-B", "batiment_u4/salle_302_b"),
    ("Éco Campus", "Hall d'entrée", "eco_campus/hall_d_entree"), ("u4", "campusFab", "u4/campusfab")])
def test_topic_sanitising(stub, mac, building, room, topic):
    stub.admin.add_device(mac, location=(building, room))
    _, _, cfg = handshake(stub, mac)
    assert cfg["topics"][0] == topic


def test_unconfigured_device_gets_empty_zones(stub, mac):
    stub.admin.add_device(mac, location="u4/302")
    _, _, cfg = handshake(stub, mac)
    assert cfg == {"topics": ["u4/302"], "zones": []}


def test_config_refuses_missing_and_bad_basic_auth(stub, mac):
    stub.admin.add_device(mac, location="u4/302")
    login, password, _ = handshake(stub, mac)
    cases = [None, (login, "wrong"), ("senso_000000000000", password), (login, ""),
             ("admin", stub.token)]
    for auth in cases:
        r = get(stub, "/device/config", auth=auth)
        assert r.status_code == 403 and r.content == b"", auth
    for header in ["Basic !!!notbase64", "Bearer " + stub.token, "Basic", "Digest x"]:
        r = get(stub, "/device/config", headers={"Authorization": header})
        assert r.status_code == 403 and r.content == b"", header


def test_disabled_device_is_refused_then_enabled_again(stub, mac):
    stub.admin.add_device(mac, location="u4/302")
    login, password, _ = handshake(stub, mac)
    stub.admin.disable(mac)
    assert get(stub, "/device/config", auth=(login, password)).status_code == 403
    assert get(stub, "/device/credentials", params={"mac": mac}).status_code == 403
    stub.admin.enable(mac)
    assert get(stub, "/device/config", auth=(login, password)).status_code == 200


def test_deleted_device_is_unknown(stub, mac):
    stub.admin.add_device(mac, location="u4/302")
    login, password, _ = handshake(stub, mac)
    stub.admin.delete(mac)
    assert get(stub, "/device/config", auth=(login, password)).status_code == 403
    r = get(stub, "/device/credentials", params={"mac": mac})
    assert r.status_code == 403 and r.content == b""


def test_logger_stores_logging_record_fields(stub, mac):
    stub.admin.add_device(mac, location="u4/302")
    login, password, _ = handshake(stub, mac)
    record = {"levelno": "40", "levelname": "ERROR", "name": "neosensor", "module": "main",
              "funcName": "loop", "lineno": "123", "msg": "I2C bus stuck", "created": "1795600000.5"}
    r = requests.post(stub.url + "/device/logger", data=record, auth=(login, password), timeout=5)
    assert r.status_code == 200
    logs = stub.admin.logs(mac)
    assert len(logs) == 1
    got = logs[0]
    assert got["msg"] == "I2C bus stuck" and got["levelno"] == 40 and got["lineno"] == 123
    assert got["levelname"] == "ERROR" and got["funcName"] == "loop" and got["created"] == 1795600000.5
    bad = requests.post(stub.url + "/device/logger", data=record, auth=(login, "nope"), timeout=5)
    assert bad.status_code == 403 and bad.content == b""
    assert len(stub.admin.logs(mac)) == 1


def test_admin_api_needs_the_token(stub):
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic " + stub.token}]:
        r = get(stub, "/api/devices", headers=headers)
        assert r.status_code == 401
        assert "token" in r.json()["error"]
    r = requests.post(stub.url + "/api/devices", json={"mac": "02:00:00:00:00:01", "location": "a/b"}, timeout=5)
    assert r.status_code == 401
    assert all(d["mac"] != "02:00:00:00:00:01" for d in stub.admin.devices())


def test_token_file_is_private(stub):
    import os
    import stat
    mode = stat.S_IMODE(os.stat(stub.data_dir / "admin-token").st_mode)
    assert mode == 0o600
    assert (stub.data_dir / "admin-token").read_text().strip() == stub.token


def test_passwords_never_stored_in_clear(stub, mac):
    stub.admin.add_device(mac, location="u4/302")
    _, password, _ = handshake(stub, mac)
    for path in stub.data_dir.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path


def test_historic_broker_auth_endpoints_apply_the_same_rules(stub, mac):
    stub.admin.add_device(mac, location="u4/302")
    login, password, _ = handshake(stub, mac)
    post = lambda path, data: requests.post(stub.url + "/mqtt_auth/" + path, data=data, timeout=5)  # noqa: E731
    assert post("auth", {"username": login, "password": password}).status_code == 200
    for bad in [{"username": login, "password": "x"}, {"username": login}, {}, {"password": password}]:
        r = post("auth", bad)
        assert r.status_code == 403 and r.content == b""
    assert post("superuser", {"username": login}).status_code == 403
    cases = [("u4/302/temperature", 2, 200), ("u4/303/temperature", 2, 403), ("u4/302/+/command", 4, 200),
             ("u4/302/device/command", 1, 200), ("u4/303/device/command", 1, 403), ("u4/303/+/command", 4, 403),
             ("#", 4, 403), ("u4/302/temperature", 7, 403)]
    for topic, acc, status in cases:
        r = post("acl", {"username": login, "topic": topic, "clientid": "x", "acc": acc})
        assert r.status_code == status, (topic, acc)
    user, _ = stub.collector_credentials()
    assert post("acl", {"username": user, "topic": "+/+/+", "acc": 4}).status_code == 200
    stub.admin.disable(mac)
    assert post("auth", {"username": login, "password": password}).status_code == 403
    assert post("acl", {"username": login, "topic": "u4/302/temperature", "acc": 2}).status_code == 403


def test_concurrent_first_calls_deliver_the_password_once(stub, mac):
    import concurrent.futures
    stub.admin.add_device(mac, location="u4/302")
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: get(stub, "/device/credentials", params={"mac": mac}), range(16)))
    assert all(a.status_code == 200 for a in answers)
    passwords = [a.json()["password"] for a in answers if "password" in a.json()]
    assert len(passwords) == 1
    login = answers[0].json()["login"]
    assert get(stub, "/device/config", auth=(login, passwords[0])).status_code == 200


def test_small_boot_storm_has_no_errors(stub):
    """200 devices at once (the full-size storm is bench/registry.py)."""
    import asyncio
    import base64

    import aiohttp

    macs = ["02:77:00:00:%02x:%02x" % (i // 256, i % 256) for i in range(200)]
    for m in macs:
        stub.admin.add_device(m, location="storm/r%d" % (int(m[-2:], 16) % 10))

    async def boot(session, m):
        async with session.get(stub.url + "/device/credentials", params={"mac": m}) as r:
            assert r.status == 200
            cred = await r.json()
        auth = "Basic " + base64.b64encode(("%s:%s" % (cred["login"], cred["password"])).encode()).decode()
        async with session.get(stub.url + "/device/config", headers={"Authorization": auth}) as r:
            assert r.status == 200
            return (await r.json())["topics"][0]

    async def storm():
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=connector) as s:
            return await asyncio.gather(*(boot(s, m) for m in macs))

    topics = asyncio.run(storm())
    assert sorted(set(topics)) == ["storm/r%d" % i for i in range(10)]
