"""`neoc server --http-processes N`: N processes on one HTTP port (provisioning/http_worker.py).

Each new connection goes to one of them at the kernel's choice: the tests make many
connections and check, from /api/http, that both processes answered handshakes.
"""
import http.client
import os
import signal
import socket
import subprocess
import sys

import pytest
import requests

from provisioning import mosquitto as mq
from provisioning.stub_process import StubError, StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from harness import need  # noqa: E402
from support.stub_helpers import try_login, wait_until  # noqa: E402

pytestmark = pytest.mark.slow

DEVICES = 40  # new connections each: both processes get some (2^-39 that one gets none)


def start(tmp_path, broker="embedded", **kw):
    if broker == "mosquitto" and mq.find("mosquitto") is None:
        need("Mosquitto is not installed")
    if broker == "embedded":
        pytest.importorskip("amqtt")
    return StubServer(tmp_path / "stub", broker=broker, extra_args=["--http-processes", "2"], **kw)


def http_state(stub):
    r = requests.get(stub.url + "/api/http", headers={"Authorization": "Bearer " + stub.token}, timeout=5,
                     verify=str(stub.tls["ca"]) if stub.tls else True)
    assert r.status_code == 200, r.text
    return r.json()


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("broker", ["embedded", "mosquitto"])
def test_passwords_from_either_process_work_on_the_broker_at_once(tmp_path, broker):
    with start(tmp_path, broker) as stub:
        state = http_state(stub)
        assert [p["role"] for p in state["processes"]] == ["server", "worker"]
        macs = ["02:43:00:00:00:%02x" % i for i in range(DEVICES)]
        for mac in macs:
            stub.admin.add_device(mac, location="U4/r1", modules=["temperature"])
        creds = []
        for mac in macs:
            r = requests.get(stub.url + "/device/credentials", params={"mac": mac}, timeout=5)
            assert r.status_code == 200, r.text
            body = r.json()
            # The password is live on the broker as soon as it is answered, whoever answered.
            assert try_login(stub, body["login"], body["password"]), body["login"]
            cfg = requests.get(stub.url + "/device/config", auth=(body["login"], body["password"]), timeout=5)
            assert cfg.status_code == 200 and cfg.json()["topics"] == ["u4/r1"]
            creds.append(body)
        issued = {p["role"]: p["passwords"] for p in http_state(stub)["processes"]}
        assert issued["server"] > 0 and issued["worker"] > 0, issued
        assert issued["server"] + issued["worker"] == DEVICES
        # A second credentials call, wherever it lands, gives no password again.
        again = [requests.get(stub.url + "/device/credentials", params={"mac": m}, timeout=5).json() for m in macs]
        assert all("password" not in a for a in again)


def test_everything_else_is_forwarded_with_the_client_address(tmp_path):
    with start(tmp_path, public_page=False) as stub:
        stub.admin.add_device("02:43:00:00:01:01", location="U4/r2", modules=["temperature"])
        body = requests.get(stub.url + "/device/credentials", params={"mac": "02:43:00:00:01:01"}, timeout=5).json()
        auth = (body["login"], body["password"])
        bearer = {"Authorization": "Bearer " + stub.token}
        for i in range(20):  # 20 connections: some through the worker
            assert requests.get(stub.url + "/api/devices", headers=bearer, timeout=5).status_code == 200
            assert requests.get(stub.url + "/api/devices", timeout=5).status_code == 401
            assert requests.get(stub.url + "/live/state", timeout=5).status_code == 401  # no viewer token
            r = requests.post(stub.url + "/device/logger", data={"msg": "log %d" % i}, auth=auth, timeout=5)
            assert r.status_code == 200, r.text
            # The broker's auth endpoint answers loopback only: the worker passes the real address on.
            r = requests.post(stub.url + "/mqtt_auth/auth", data={"username": auth[0], "password": auth[1]}, timeout=5)
            assert r.status_code == 200
        assert [rec["msg"] for rec in stub.admin.logs("02:43:00:00:01:01")] == ["log %d" % i for i in range(20)]
        # A query string and a body too large for the server arrive as sent.
        assert requests.get(stub.url + "/api/readings", params={"topic": "u4/r2", "limit": "3"}, headers=bearer,
                            timeout=5).status_code == 200
        r = requests.post(stub.url + "/api/devices", data=b"x" * (200 * 1024), timeout=5,
                          headers=dict(bearer, **{"Content-Type": "application/json"}))
        assert r.status_code == 413
        # Live pages' event streams through either process.
        streams = [requests.get(stub.url + "/live/events", headers=bearer, stream=True, timeout=5) for _ in range(6)]
        try:
            lines = [s.iter_lines() for s in streams]
            for s, it in zip(streams, lines):
                assert s.status_code == 200 and s.headers["Content-Type"] == "text/event-stream"
                assert next(it) == b": connected"
            stub.admin.add_device("02:43:00:00:01:02", location="U4/r3", modules=["temperature"])
            for it in lines:
                assert b'"devices"' in next(line for line in it if line)
        finally:
            for s in streams:
                s.close()


def test_alerts_seen_by_the_worker_reach_the_live_page(tmp_path):
    with start(tmp_path) as stub:
        mac = "02:43:00:00:02:01"
        stub.admin.add_device(mac, location="U4/r4", modules=["temperature"])
        assert "password" in requests.get(stub.url + "/device/credentials", params={"mac": mac}, timeout=5).json()
        for _ in range(8):  # from another address than the claimer's: the "second claim" alert
            c = http.client.HTTPConnection(stub.host, stub.http_port, timeout=5, source_address=("127.0.0.2", 0))
            c.request("GET", "/device/credentials?mac=" + mac)
            assert c.getresponse().status == 200
            c.close()

        def second_claims():  # a worker's alert reaches the server just after its answer
            alerts = requests.get(stub.url + "/live/state", timeout=5).json()["alerts"]
            return [a for a in alerts if a["kind"] == "second claim" and "127.0.0.2" in a["message"]]
        assert wait_until(lambda: len(second_claims()) == 8, timeout=5), second_claims()


def test_a_dead_worker_is_replaced_and_workers_end_with_the_server(tmp_path):
    with start(tmp_path) as stub:
        worker = http_state(stub)["processes"][1]["pid"]
        os.kill(worker, signal.SIGKILL)

        def replaced():
            try:
                s = http_state(stub)
            except requests.ConnectionError:
                return None  # a connection the kernel gave the dying worker is reset: a device retries
            return s if s["worker_restarts"] == 1 and len(s["processes"]) == 2 else None
        state = wait_until(replaced, timeout=10)
        assert state, http_state(stub)
        replacement = state["processes"][1]["pid"]
        assert replacement != worker and alive(replacement)
        for i in range(10):
            mac = "02:43:00:00:03:%02x" % i
            stub.admin.add_device(mac, location="U4/r5", modules=["temperature"])
            assert "password" in requests.get(stub.url + "/device/credentials", params={"mac": mac}, timeout=5).json()
        assert "HTTP worker %d ended" % worker in stub.output()
        server = stub.proc.pid
        os.kill(server, signal.SIGKILL)  # no clean stop: the worker sees its link close
        assert wait_until(lambda: not alive(replacement), timeout=10), "worker outlived the server"
        stub.proc.wait(5)  # reaped: StubServer's stop has nothing left to stop


def test_a_stopped_server_stops_its_workers(tmp_path):
    stub = start(tmp_path)
    stub.start()
    worker = http_state(stub)["processes"][1]["pid"]
    stub.stop()
    assert wait_until(lambda: not alive(worker), timeout=5)


def test_a_port_in_use_is_refused_as_with_one_process(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        with pytest.raises(StubError) as err:
            StubServer(tmp_path / "stub", broker="embedded", http_port=port, timeout=10,
                       extra_args=["--http-processes", "2"]).start()
        assert "in use" in str(err.value)
    finally:
        holder.close()


def test_help_explains_the_option():
    out = subprocess.run([sys.executable, "-m", "neoc", "server", "--help"], capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL).stdout
    assert "--http-processes" in out and "workers" in out


def test_https_is_served_by_every_process(tmp_path, tls_files):
    with start(tmp_path, tls=tls_files) as stub:
        assert stub.url.startswith("https://")
        for i in range(DEVICES // 2):
            mac = "02:43:00:00:04:%02x" % i
            r = requests.post(stub.url + "/api/devices", json={"mac": mac, "location": "U4/r6"}, timeout=5,
                              headers={"Authorization": "Bearer " + stub.token}, verify=str(tls_files["ca"]))
            assert r.status_code == 201, r.text
            r = requests.get(stub.url + "/device/credentials", params={"mac": mac}, timeout=5,
                             verify=str(tls_files["ca"]))
            assert r.status_code == 200 and "password" in r.json()
        issued = {p["role"]: p["passwords"] for p in http_state(stub)["processes"]}
        assert issued["server"] > 0 and issued["worker"] > 0, issued
