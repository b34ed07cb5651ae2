"""The stub across restarts, with an external broker, and `neoc readings --follow`."""
import json
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from provisioning import mosquitto as mq
from provisioning.stub_process import StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from harness import need  # noqa: E402
from support.stub_helpers import mqtt_client, handshake, try_login, wait_until  # noqa: E402

pytestmark = pytest.mark.slow


def test_restart_keeps_devices_passwords_and_readings(tmp_path):
    mac = "02:33:00:00:00:01"
    with StubServer(tmp_path / "d") as stub:
        stub.admin.add_device(mac, location="u4/302", modules=["temperature"])
        login, password, _ = handshake(stub, mac)
        c = mqtt_client(stub, login, password)
        c.publish("u4/302/temperature", {"value": 20.5, "unitID": "auto_0001", "seq": 1})
        assert wait_until(lambda: stub.admin.readings())
        c.close()
        token = stub.token
    with StubServer(tmp_path / "d") as stub:
        assert stub.token == token  # the token file is reused, not regenerated
        # No password again; the broker advertised is the restarted stub's (a new port).
        assert requests.get(stub.url + "/device/credentials", params={"mac": mac}, timeout=5).json() == {
            "login": login, "server": stub.mqtt_host, "port": stub.mqtt_port}
        assert requests.get(stub.url + "/device/config", auth=(login, password), timeout=5).status_code == 200
        assert try_login(stub, login, password)  # the broker account comes back from the stored hash
        assert [r["value"] for r in stub.admin.readings()] == [20.5]


def test_external_broker_gets_files_and_works_after_its_own_reload(tmp_path):
    exe = mq.find("mosquitto")
    if exe is None:
        need("Mosquitto is not installed")
    port = mq.free_port()
    with StubServer(tmp_path / "d", broker="external", mqtt_port=port) as stub:
        files = stub.data_dir / "mosquitto"
        conf = (files / "mosquitto.conf").read_text()
        assert "allow_anonymous false" in conf and "listener %d 127.0.0.1" % port in conf
        assert (files / "passwd").stat().st_mode & 0o777 == 0o600
        # The campus broker, run by someone else from the stub's files.
        broker = subprocess.Popen([exe, "-c", str(files / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            assert mq.wait_port("127.0.0.1", port, 10, broker)
            assert wait_until(lambda: stub.admin.collector()["connected"], timeout=10)
            mac = "02:33:00:00:00:02"
            stub.admin.add_device(mac, location="u4/302")
            login, password, _ = handshake(stub, mac)
            time.sleep(0.3)
            assert login in (files / "passwd").read_text()
            assert "user %s\ntopic write u4/302/+\n" % login in (files / "acl").read_text()
            assert not try_login(stub, login, password)  # not reloaded yet: the stub does not own it
            broker.send_signal(signal.SIGHUP)
            assert wait_until(lambda: try_login(stub, login, password))
            c = mqtt_client(stub, login, password)
            c.publish("u4/302/humidity", {"value": 44, "value_units": "%r.H.", "unitID": "auto_0002"})
            assert wait_until(lambda: stub.admin.readings(topic="u4/302"))
            c.close()
        finally:
            broker.terminate()
            broker.wait(5)


def test_readings_follow_prints_new_readings(tmp_path):
    with StubServer(tmp_path / "d") as stub:
        mac = "02:33:00:00:00:03"
        stub.admin.add_device(mac, location="u4/302")
        login, password, _ = handshake(stub, mac)
        env = {"NEOC_SERVER": stub.url, "NEOC_TOKEN": stub.token, "PATH": "/usr/bin:/bin"}
        p = subprocess.Popen([sys.executable, "-m", "neoc", "readings", "--follow", "--json", "--interval", "0.2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            time.sleep(1.5)  # let it print the (empty) history and start polling
            c = mqtt_client(stub, login, password)
            for seq in (1, 2):
                c.publish("u4/302/temperature", {"value": 20 + seq, "unitID": "auto_0003", "seq": seq})
            c.close()
            lines = []
            reader = threading.Thread(target=lambda: lines.extend(json.loads(p.stdout.readline()) for _ in range(2)),
                                      daemon=True)
            reader.start()
            reader.join(15)  # never hang the suite on a silent follower
        finally:
            p.terminate()
            p.wait(5)
        assert [(r["seq"], r["value"]) for r in lines] == [(1, 21), (2, 22)]


def test_a_killed_mosquitto_is_restarted_and_collection_resumes(tmp_path):
    if mq.find("mosquitto") is None:
        need("Mosquitto is not installed")
    import os
    with StubServer(tmp_path / "d", broker="mosquitto") as stub:
        mac = "02:33:00:00:00:04"
        stub.admin.add_device(mac, location="u4/302")
        login, password, _ = handshake(stub, mac)
        pid = int(subprocess.run(["pgrep", "-f", str(stub.data_dir / "mosquitto" / "mosquitto.conf")],
                                 capture_output=True, text=True).stdout.split()[0])
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: try_login(stub, login, password), timeout=10), stub.output()
        # The collector reconnects on its own (clean session: what was sent before is not replayed).
        assert wait_until(lambda: stub.admin.collector()["connected"], timeout=10), stub.output()
        c = mqtt_client(stub, login, password)
        c.publish("u4/302/temperature", {"value": 19.5, "unitID": "auto_0004"})
        assert wait_until(lambda: stub.admin.readings(topic="u4/302"), timeout=10), stub.output()
        c.close()
        assert "restarting it" in stub.output()


def test_a_picked_port_taken_before_the_server_binds_it_is_picked_again(tmp_path, monkeypatch):
    import socket
    from provisioning import stub_process
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    ports = [taken.getsockname()[1]]
    real = stub_process.free_port
    monkeypatch.setattr(stub_process, "free_port", lambda host: ports.pop(0) if ports else real(host))
    try:
        with StubServer(tmp_path / "d") as stub:
            assert stub.http_port != taken.getsockname()[1]
            assert requests.get(stub.url + "/device/credentials", params={"mac": "02:33:00:00:00:09"},
                                timeout=5).status_code == 403
    finally:
        taken.close()
