"""Guessing passwords (issue 19, part 4): failed logins are limited per login and per
client address with a clear 429, and an unknown login costs the same work and gets
the same answer as a known one with a wrong password."""
import sys

import pytest
import requests

from provisioning import passwords
from provisioning.broker import Policy
from provisioning.ratelimit import FailureLimit
from provisioning.stub_process import StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from support.stub_helpers import handshake  # noqa: E402


def test_failure_limit_counts_per_key_within_its_window():
    now = [0.0]
    lim = FailureLimit(3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert lim.retry_after("a") == 0
        lim.failed("a")
    assert lim.retry_after("a") == pytest.approx(60)
    assert lim.retry_after("b") == 0
    now[0] = 30
    assert lim.retry_after("a") == pytest.approx(30)
    now[0] = 60.5
    assert lim.retry_after("a") == 0


def test_unknown_and_known_logins_cost_one_hash_check_each(monkeypatch):
    policy = Policy("neoc_collector", "collector-pw")
    policy.users["senso_aabbccddeeff"] = passwords.mosquitto_hash("right")
    calls = []
    real = passwords.mosquitto_verify
    monkeypatch.setattr(passwords, "mosquitto_verify", lambda pw, stored: calls.append(stored) or real(pw, stored))
    assert policy.authenticate("senso_aabbccddeeff", "wrong") is False
    assert policy.authenticate("senso_000000000000", "wrong") is False
    assert policy.authenticate(None, None) is False
    assert len(calls) == 3 and calls[1] == calls[2] == passwords.DUMMY_MOSQUITTO_HASH
    assert policy.authenticate("senso_aabbccddeeff", "right") is True


@pytest.fixture
def stub(tmp_path):
    pytest.importorskip("amqtt")
    with StubServer(tmp_path / "data", broker="embedded") as s:
        yield s
        print(s.output())


def test_device_config_guesses_are_limited_per_login(stub):
    mac = "02:ab:00:00:00:01"
    stub.admin.add_device(mac, location="u4/lim")
    login, password, _ = handshake(stub, mac)
    answers = [requests.get(stub.url + "/device/config", auth=(login, "guess-%d" % i), timeout=5)
               for i in range(10)]
    unknown = [requests.get(stub.url + "/device/config", auth=("senso_0000000000%02d" % 1, "guess"), timeout=5)
               for _ in range(10)]
    # Unknown login and known login with a wrong password: the same answer.
    assert {(r.status_code, r.content) for r in answers + unknown} == {(403, b"")}
    limited = requests.get(stub.url + "/device/config", auth=(login, "guess-10"), timeout=5)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "too many failed logins" in limited.json()["error"]
    assert requests.get(stub.url + "/device/config", auth=("senso_000000000001", "g"), timeout=5).status_code == 429
    # The limit is per login: another device goes on.
    other = "02:ab:00:00:00:02"
    stub.admin.add_device(other, location="u4/lim")
    assert handshake(stub, other)[2]["topics"] == ["u4/lim"]


def test_auth_plugin_endpoint_guesses_are_limited(stub):
    codes = [requests.post(stub.url + "/mqtt_auth/auth", data={"username": "senso_aabbccddee01",
                                                              "password": "g%d" % i}, timeout=5).status_code
             for i in range(12)]
    assert codes[:10] == [403] * 10 and codes[10:] == [429, 429]


def test_guesses_are_limited_per_client_address(stub):
    codes = [requests.post(stub.url + "/mqtt_auth/auth", data={"username": "senso_%012x" % i, "password": "g"},
                           timeout=5).status_code for i in range(101)]
    assert codes[:100] == [403] * 100 and codes[100] == 429


def test_mqtt_connect_guesses_are_limited_on_the_embedded_broker(stub):
    from support.stub_helpers import try_login
    mac = "02:ab:00:00:00:09"
    stub.admin.add_device(mac, location="u4/lim")
    login, password, _ = handshake(stub, mac)
    assert try_login(stub, login, password)
    assert not any(try_login(stub, login, "guess-%d" % i) for i in range(10))
    assert not try_login(stub, login, password)  # the login waits out the window, even with its password
    other = "02:ab:00:00:00:0a"
    stub.admin.add_device(other, location="u4/lim")
    other_login, other_password, _ = handshake(stub, other)
    assert try_login(stub, other_login, other_password)
