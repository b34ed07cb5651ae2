"""Leak nothing an attacker needs (issue 19, part 4): the live page wants a viewer
token unless --public-page, a password goes only to a first credentials call within
the claim window, and a second claimer of a claimed MAC raises an alert."""
import http.client
import json
import os
import subprocess
import sys
import time

import pytest
import requests

from provisioning.stub_process import StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from support.stub_helpers import handshake  # noqa: E402


@pytest.fixture(scope="module")
def stub(tmp_path_factory):
    pytest.importorskip("amqtt")
    s = StubServer(tmp_path_factory.mktemp("claims") / "data", broker="embedded", public_page=False,
                   extra_args=["--claim-window", "2s"])
    s.start()
    yield s
    s.stop()
    print(s.output())


def test_live_page_needs_the_viewer_token(stub):
    for path in ("/", "/live/state", "/live/events"):
        r = requests.get(stub.url + path, timeout=5)
        assert r.status_code == 401 and "viewer token" in r.text, path
    assert requests.get(stub.url + "/live/state", params={"token": "wrong"}, timeout=5).status_code == 401
    viewer = requests.Session()
    r = viewer.get(stub.url + "/", params={"token": stub.viewer_token()}, timeout=5)
    assert r.status_code == 200 and r.url == stub.url + "/" and "<html" in r.text.lower()
    assert viewer.get(stub.url + "/live/state", timeout=5).status_code == 200  # by its cookie
    admin = requests.get(stub.url + "/live/state", headers={"Authorization": "Bearer " + stub.token}, timeout=5)
    assert admin.status_code == 200 and "devices" in admin.json()


def test_a_password_goes_only_to_a_claim_within_the_window(stub):
    late, free = "02:cc:00:00:00:01", "02:cc:00:00:00:02"
    stub.admin.add_device(late, location="u4/claim")  # the server's --claim-window 2s
    stub.admin.add_device(free, location="u4/claim", claim_window=0)  # no limit
    assert stub.admin.device(late)["claim_until"] == pytest.approx(time.time() + 2, abs=1.5)
    time.sleep(2.5)
    r = requests.get(stub.url + "/device/credentials", params={"mac": late}, timeout=5)
    assert (r.status_code, r.content) == (403, b"")
    alerts = stub.admin.collector()["alerts"]
    assert any(a["kind"] == "claim after window" and a["mac"] == late.upper() for a in alerts)
    assert "password" in requests.get(stub.url + "/device/credentials", params={"mac": free}, timeout=5).json()
    stub.admin.reset_credentials(late, claim_window=60)
    assert "password" in requests.get(stub.url + "/device/credentials", params={"mac": late}, timeout=5).json()


def test_claim_window_from_the_shell(stub):
    env = dict(os.environ, NEOC_SERVER=stub.url, NEOC_TOKEN=stub.token)
    p = subprocess.run([sys.executable, "-m", "neoc", "device", "add", "02:cc:00:00:00:03", "--location",
                        "u4/claim", "--claim-window", "10m", "--json"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["claim_until"] == pytest.approx(time.time() + 600, abs=30)
    p = subprocess.run([sys.executable, "-m", "neoc", "device", "add", "02:cc:00:00:00:04", "--location",
                        "u4/claim", "--claim-window", "soon"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode != 0 and "duration" in p.stderr


def _credentials_from(stub, address, mac):
    conn = http.client.HTTPConnection(stub.host, stub.http_port, timeout=5, source_address=(address, 0))
    conn.request("GET", "/device/credentials?mac=" + mac)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, json.loads(body) if body else None


def test_a_second_claimer_is_an_alert(stub):
    mac = "02:cc:00:00:00:05"
    stub.admin.add_device(mac, location="u4/claim")
    status, first = _credentials_from(stub, "127.0.0.1", mac)
    assert status == 200 and "password" in first
    # The device itself, rebooting: no alert.
    assert _credentials_from(stub, "127.0.0.1", mac) == (200, {k: v for k, v in first.items() if k != "password"})
    assert not [a for a in stub.admin.collector()["alerts"] if a["mac"] == mac.upper()]
    status, second = _credentials_from(stub, "127.0.0.2", mac)
    assert status == 200 and "password" not in second
    alerts = [a for a in stub.admin.collector()["alerts"] if a["mac"] == mac.upper()]
    assert [a["kind"] for a in alerts] == ["second claim"] and "127.0.0.2" in alerts[0]["message"]
    state = requests.get(stub.url + "/live/state", params={"token": stub.viewer_token()}, timeout=5).json()
    assert any(a["kind"] == "second claim" for a in state["alerts"])
