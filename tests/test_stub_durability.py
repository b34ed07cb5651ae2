"""Nothing the broker acknowledged is lost (issue 19, part 1), on Mosquitto.

A device publishes numbered QoS 1 readings; mid-stream either `neoc server`
or its Mosquitto is killed with SIGKILL. Every reading whose PUBACK came back
must be stored, once. 1,500 readings per run instead of the issue's 5,000:
the loss window is the same (what is in flight when the kill lands), the runs
are shorter. Three runs per scenario.
"""
import os
import signal
import sys
import time

import pytest
import requests

from provisioning import mosquitto as mq
from provisioning.stub_process import StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from harness import need  # noqa: E402
from support.durability import Publisher  # noqa: E402
from support.stub_helpers import wait_until  # noqa: E402

pytestmark = pytest.mark.slow

COUNT, RATE, KILL_AT = 1500, 1000, 700


@pytest.fixture(autouse=True)
def _mosquitto():
    if mq.find("mosquitto") is None:
        need("Mosquitto is not installed: `sudo apt-get install mosquitto`")


def _device(stub, mac, room):
    stub.admin.add_device(mac, location="u4/" + room, modules=["temperature"])
    cred = requests.get(stub.url + "/device/credentials", params={"mac": mac}, timeout=5).json()
    return cred["login"], cred["password"], "u4/" + room


def _mosquitto_pid(stub):
    return int((stub.data_dir / "mosquitto" / "mosquitto.pid").read_text().split()[0])


@pytest.mark.parametrize("run", range(3))
def test_kill_9_of_the_server_loses_nothing_acknowledged(tmp_path, run):
    stub = StubServer(tmp_path / "data", broker="mosquitto")
    stub.start()
    after = None
    try:
        mac = "02:b1:00:00:%02x:01" % run
        login, password, base = _device(stub, mac, "kill%d" % run)
        pub = Publisher(stub, mac, login, password, base)
        old_mosquitto = _mosquitto_pid(stub)
        pub.run(COUNT, RATE, at=KILL_AT, action=lambda: os.kill(stub.proc.pid, signal.SIGKILL))
        stub.proc.wait(10)
        stub.stop()
        # At once, on the same data dir and ports: the new stub ends the Mosquitto the
        # killed one left running (it saves its database) and starts its own.
        after = StubServer(stub.data_dir, broker="mosquitto", http_port=stub.http_port,
                           mqtt_port=stub.mqtt_port, token=stub.token)
        after.start()
        assert _mosquitto_pid(after) != old_mosquitto
        assert pub.wait_acked(COUNT), "readings still unacknowledged 30 s after the restart"
        lost, duplicated = pub.settle(after)
        pub.close()
        counters = after.admin.collector()["counters"]
        print("acked %d of %d, lost %d, duplicated %d, counters %s" % (len(pub.acked), COUNT, lost, duplicated, counters))
        assert len(pub.acked) >= COUNT * 0.9, len(pub.acked)
        assert (lost, duplicated) == (0, 0), counters
    finally:
        stub.stop()
        if after is not None:
            print(after.output())
            after.stop()


@pytest.mark.parametrize("run", range(3))
def test_kill_9_of_mosquitto_loses_nothing_acknowledged(tmp_path, run):
    with StubServer(tmp_path / "data", broker="mosquitto") as stub:
        mac = "02:b2:00:00:%02x:01" % run
        login, password, base = _device(stub, mac, "mkill%d" % run)
        time.sleep(0.3)  # the broker's files are reloaded ~0.1 s after the credentials call
        pub = Publisher(stub, mac, login, password, base)
        old = _mosquitto_pid(stub)
        pub.run(COUNT, RATE, at=KILL_AT, action=lambda: os.kill(old, signal.SIGKILL))
        # The stub's watchdog restarts it (within about a second).
        assert wait_until(lambda: _mosquitto_pid(stub) != old, timeout=10)
        assert pub.wait_acked(COUNT), "readings still unacknowledged 30 s after the restart"
        lost, duplicated = pub.settle(stub)
        pub.close()
        counters = stub.admin.collector()["counters"]
        print(stub.output())
        print("acked %d of %d, lost %d, duplicated %d, counters %s" % (len(pub.acked), COUNT, lost, duplicated, counters))
        assert len(pub.acked) >= COUNT * 0.9, len(pub.acked)
        assert (lost, duplicated) == (0, 0), counters
