MICROPYTHON_MPY = "neocampus, self"

import json

from portable_support import raises

from neocampus import sensocampus as sc

BASE = "http://127.0.0.1:8000"
MAC = "AA:BB:CC:DD:92:F8"
LOGIN = "senso_aabbccdd92f8"
PW = "0b5c7a5e-4a7e-4b39-9a0b-6c1f3f1e2d3c"


class FakeHttp:
    """Answers in order and records each request as (method, url, headers, body)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, method, url, headers=None, body=None):
        self.calls.append((method, url, headers, body))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, doc = answer
        if isinstance(doc, (dict, list)):
            doc = json.dumps(doc).encode()
        return status, doc


def test_first_boot_gets_a_password_and_returns_it_to_persist():
    http = FakeHttp((200, {"login": LOGIN, "password": PW}))
    creds, changed = sc.credentials(http, BASE + "/", MAC, None, server="broker.local", port=1883)
    assert changed
    assert creds == {"mqtt_login": LOGIN, "mqtt_passwd": PW, "mqtt_server": "broker.local",
                     "mqtt_port": 1883}, creds
    assert http.calls == [("GET", BASE + "/device/credentials?mac=aa:bb:cc:dd:92:f8", None, None)], http.calls


def test_second_boot_reuses_the_stored_password_when_logins_match():
    stored = {"mqtt_login": LOGIN, "mqtt_passwd": PW, "mqtt_server": "broker.local", "mqtt_port": 1883,
              "sandbox": False}
    http = FakeHttp((200, {"login": LOGIN}))
    creds, changed = sc.credentials(http, BASE, "aabbccdd92f8", stored, "broker.local", 1883)
    assert not changed
    assert creds["mqtt_passwd"] == PW and creds["sandbox"] is False
    # An admin reset delivers a new password: it replaces the stored one.
    http = FakeHttp((200, {"login": LOGIN, "password": "new-one"}))
    creds, changed = sc.credentials(http, BASE, MAC, stored, "broker.local", 1883)
    assert changed and creds["mqtt_passwd"] == "new-one"


def test_no_password_and_login_mismatch_cannot_go_on():
    stored = {"mqtt_login": "senso_000000000000", "mqtt_passwd": PW}
    with raises(sc.NoPassword, "reset"):
        sc.credentials(FakeHttp((200, {"login": LOGIN})), BASE, MAC, stored)
    with raises(sc.NoPassword):
        sc.credentials(FakeHttp((200, {"login": LOGIN})), BASE, MAC, None)
    with raises(sc.NoPassword):
        sc.credentials(FakeHttp((200, {"login": LOGIN})), BASE, MAC, {"mqtt_login": LOGIN, "mqtt_passwd": ""})
    assert issubclass(sc.NoPassword, sc.SensocampusError)


def test_server_and_port_override():
    stored = {"mqtt_login": LOGIN, "mqtt_passwd": PW, "mqtt_server": "broker.local", "mqtt_port": 1883}
    http = FakeHttp((200, {"login": LOGIN, "server": "10.0.0.5", "port": "8883"}))
    creds, changed = sc.credentials(http, BASE, MAC, stored, "broker.local", 1883)
    assert changed and creds["mqtt_server"] == "10.0.0.5" and creds["mqtt_port"] == 8883
    # The override removed: back to the device's own broker.
    creds2, changed = sc.credentials(FakeHttp((200, {"login": LOGIN})), BASE, MAC, creds, "broker.local", 1883)
    assert changed and creds2["mqtt_server"] == "broker.local" and creds2["mqtt_port"] == 1883
    with raises(sc.ProtocolError, "port"):
        sc.credentials(FakeHttp((200, {"login": LOGIN, "port": "http"})), BASE, MAC, stored)
    with raises(sc.ProtocolError, "port"):
        sc.credentials(FakeHttp((200, {"login": LOGIN, "port": 70000})), BASE, MAC, stored)


def test_unknown_device_403_empty_body_is_unregistered():
    with raises(sc.Unregistered, "aa:bb:cc:dd:92:f8 is not registered"):
        sc.credentials(FakeHttp((403, b"")), BASE, MAC, None)


def test_bad_answers_are_protocol_errors():
    for body in (b"<html>oops</html>", b"", b"[1, 2]", b'{"password": "x"}', b'{"login": 5}',
                 b'{"login": "senso_aabbccdd92f8", "password": 12}', b"\xff\xfe"):
        with raises(sc.ProtocolError):
            sc.credentials(FakeHttp((200, body)), BASE, MAC, None)
    with raises(sc.SensocampusError, "HTTP 500"):
        sc.credentials(FakeHttp((500, b"")), BASE, MAC, None)


def test_network_errors_propagate():
    with raises(OSError):
        sc.credentials(FakeHttp(OSError(113)), BASE, MAC, None)
    with raises(OSError):
        sc.config(FakeHttp(OSError(110)), BASE, LOGIN, PW)
    with raises(ValueError):
        sc.credentials(FakeHttp(), BASE, "not a mac", None)


def test_basic_auth_header_exact_bytes():
    assert sc.basic_auth("senso_aabbccdd92f8", "pw") == "Basic c2Vuc29fYWFiYmNjZGQ5MmY4OnB3"
    assert sc.basic_auth("test", "test") == "Basic dGVzdDp0ZXN0"
    http = FakeHttp((200, {"topics": [], "zones": []}))
    sc.config(http, BASE, "senso_aabbccdd92f8", "pw")
    assert http.calls == [("GET", BASE + "/device/config",
                           {"Authorization": "Basic c2Vuc29fYWFiYmNjZGQ5MmY4OnB3"}, None)], http.calls


def test_config_uses_topics0_and_zones0():
    doc = {"topics": ["u4/302", "u4/303"], "zones": [
        {"topic": "u4/302", "modules": [
            {"module": "temperature", "unit": "ambiant", "frequency": 120,
             "params": [{"param": "delta", "value": 0.2}, {"param": "stable_reads", "value": 5}]},
            {"module": "luminosity", "unit": "", "frequency": 30, "driver": "tsl2561"},
            {"module": "device"}]},
        {"topic": "u4/303", "modules": [{"module": "noise"}]}]}
    cfg = sc.config(FakeHttp((200, doc)), BASE, LOGIN, PW)
    assert cfg.base_topic == "u4/302" and cfg.topics == ["u4/302", "u4/303"] and len(cfg.zones) == 2
    assert [m["module"] for m in cfg.modules] == ["temperature", "luminosity", "device"]
    assert cfg.modules[0] == {"module": "temperature", "unit": "ambiant", "frequency": 120, "driver": None,
                              "params": {"delta": 0.2, "stable_reads": 5}}, cfg.modules[0]
    assert cfg.module("luminosity") == {"module": "luminosity", "unit": None, "frequency": 30,
                                        "driver": "tsl2561", "params": {}}
    assert cfg.module("device")["frequency"] is None
    assert cfg.module("noise") is None


def test_unconfigured_device_has_no_modules():
    cfg = sc.config(FakeHttp((200, {"topics": [], "zones": []})), BASE, LOGIN, PW)
    assert cfg.base_topic is None and cfg.modules == [] and cfg.zones == []
    cfg = sc.config(FakeHttp((200, {"topics": ["irit2/366"], "zones": []})), BASE, LOGIN, PW)
    assert cfg.base_topic == "irit2/366" and cfg.modules == []


def test_config_refusals_and_bad_shapes():
    with raises(sc.AuthRefused, "HTTP 403"):
        sc.config(FakeHttp((403, b"")), BASE, LOGIN, "wrong")
    for doc in ([], {"topics": "u4/302"}, {"topics": [3]}, {"zones": [5]}, {"zones": [{"modules": {}}]},
                {"zones": [{"modules": [{"unit": "x"}]}]},
                {"zones": [{"modules": [{"module": "temperature", "frequency": "often"}]}]},
                {"zones": [{"modules": [{"module": "temperature", "params": [{"value": 1}]}]}]},
                {"zones": [{"modules": [{"module": "temperature", "unit": 7}]}]}):
        with raises(sc.ProtocolError):
            sc.config(FakeHttp((200, doc)), BASE, LOGIN, PW)
    with raises(sc.ProtocolError, "not JSON"):
        sc.config(FakeHttp((200, b"{")), BASE, LOGIN, PW)


def test_retry_delays_grow_with_jitter():
    assert sc.retry_delays(jitter=lambda: 0) == [10, 20, 30, 40, 50]
    assert sc.retry_delays(3, 10, lambda: 0.5) == [15.0, 25.0, 35.0]
    delays = sc.retry_delays()
    assert len(delays) == 5
    for i, d in enumerate(delays):
        assert 10 * (i + 1) <= d < 10 * (i + 2), delays


def test_sandbox_session():
    creds, cfg = sc.sandbox_session("neOSensor_92f8", "broker.local", 1883)
    assert creds["mqtt_login"] == "test" and creds["mqtt_passwd"] == "test"
    assert creds["mqtt_server"] == "broker.local" and creds["mqtt_port"] == 1883
    assert cfg.base_topic == "TestTopic/neOSensor_92f8" and cfg.modules == []


def test_logger_posts_a_form_record():
    http = FakeHttp((200, b""))
    assert sc.log(http, BASE, LOGIN, PW, "boot: 21 °C & ok", levelname="WARNING", levelno=30,
                  lineno=12, created=1795000000) == 200
    method, url, headers, body = http.calls[0]
    assert method == "POST" and url == BASE + "/device/logger"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["Authorization"] == sc.basic_auth(LOGIN, PW)
    assert body == (b"levelno=30&levelname=WARNING&name=neosensor&module=&funcName=&lineno=12"
                    b"&msg=boot%3A+21+%C2%B0C+%26+ok&created=1795000000"), body
