"""The collector's receiver child process (provisioning/receiver.py): it dies
with the stub (even a SIGKILLed one), is started again if it dies alone, and
never acknowledges on a connection a message that came on an earlier one."""
import asyncio
import json
import os
import signal
import sys
import threading
import time

import paho.mqtt.client as mqtt

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from harness import need  # noqa: E402
from support import proctree  # noqa: E402
from support.stub_helpers import handshake, mqtt_client, wait_until  # noqa: E402

from provisioning import mosquitto as mq  # noqa: E402
from provisioning import receiver  # noqa: E402
from provisioning.collector import Collector  # noqa: E402
from provisioning.registry import Registry  # noqa: E402
from provisioning.stub_process import StubServer  # noqa: E402


def test_a_dead_receiver_is_started_again_and_dies_with_a_killed_stub(tmp_path, monkeypatch):
    env, mark = proctree.marked_env()
    monkeypatch.setenv(proctree.MARK, mark)
    stub = StubServer(tmp_path / "stub", broker="embedded")
    stub.start()
    try:
        first = stub.admin.collector()["receiver"]["pid"]
        assert first in [pid for pid, _ in proctree.alive(mark)]
        # A group's SIGTERM or Ctrl-C (systemd's stop, a terminal) leaves it to the stub.
        for sig in (signal.SIGTERM, signal.SIGINT):
            os.kill(first, sig)
        time.sleep(0.2)
        assert first in [pid for pid, _ in proctree.alive(mark)]
        os.kill(first, signal.SIGKILL)
        back = wait_until(lambda: (lambda c: c["connected"] and c["receiver"]["pid"] != first and c)(
            stub.admin.collector()), timeout=10)
        assert back and back["receiver"]["restarts"] == 1, stub.output()
        assert "MQTT receiver (pid %d) ended with code -9; starting it again" % first in stub.output()
        # It collects: a reading published now is stored.
        mac = "02:00:00:00:18:01"
        stub.admin.add_device(mac, location="u4/recv", modules=["temperature"])
        login, password, cfg = handshake(stub, mac)
        dev = mqtt_client(stub, login, password)
        dev.publish(cfg["topics"][0] + "/temperature",
                    {"value": 21.5, "value_units": "celsius", "subID": "24", "unitID": "auto_1801", "seq": 0})
        assert wait_until(lambda: stub.admin.collector()["counters"].get("readings") == 1, timeout=10)
        dev.close()
        # A stub killed with SIGKILL: its receiver sees the link close and ends.
        os.kill(stub.proc.pid, signal.SIGKILL)
        stub.proc.wait(10)
        assert wait_until(lambda: not proctree.alive(mark), timeout=5), proctree.alive(mark)
    finally:
        stub.stop()
        proctree.kill(mark)


class _Acks:
    def __init__(self):
        self.sent = []

    def ack(self, mid, qos):
        self.sent.append(mid)


def test_acks_reach_only_the_connection_their_messages_came_on():
    child = receiver._Child(link=None, cfg={"mqtt5": False, "client_id": "t", "manual_ack": True,
                                            "user": "u", "password": "p"})
    child.client = _Acks()
    child.connection, child.live = 3, True
    old, new = receiver.ack_token(2, 7), receiver.ack_token(3, 7)
    child._ack([old, new, receiver.ack_token(3, 65535)])
    assert child.client.sent == [7, 65535]
    child.live = False  # broken, not yet connected again: paho would queue them for the next one
    child._ack([receiver.ack_token(3, 8)])
    assert child.client.sent == [7, 65535]


def test_a_collector_stopped_while_readings_flow_leaves_nothing_to_send_again(tmp_path):
    """Stopped mid-stream, the collector stores and acknowledges all its receiver got
    before the receiver disconnects: the broker sends the next collector on the same
    session only what came later, and nothing is counted twice."""
    if mq.find("mosquitto") is None or mq.find("mosquitto_passwd") is None:
        need("Mosquitto is not installed: `sudo apt-get install mosquitto`")
    acl = mq.Acl()
    acl.allow("col", "read", "#")
    acl.allow("dev", "write", "#")
    mac, count = "02:00:00:00:18:02", 3000
    with mq.Mosquitto(tmp_path / "mq", users={"col": "pc", "dev": "pd"}, acl=acl,
                      extra=["max_queued_messages 100000", "max_inflight_messages 10000"]) as broker:
        reg = Registry(tmp_path / "r.sqlite3")
        reg.add_device(mac, "u4/stop")
        dev = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="dev")
        dev.username_pw_set("dev", "pd")
        dev.max_inflight_messages_set(1000)
        dev.connect(broker.host, broker.port)
        dev.loop_start()

        def publish():
            t0 = time.monotonic()
            for seq in range(count):
                dev.publish("u4/stop/temperature", json.dumps({"value": seq, "subID": "24", "unitID": "auto_1802",
                                                               "seq": seq}), qos=1)
                time.sleep(max(0.0, t0 + (seq + 1) / 3000.0 - time.monotonic()))

        def collector():
            return Collector(reg, broker.host, broker.port, "col", "pc", client_id="col", manual_ack=True,
                             mqtt5=False)

        async def main():
            first = collector()
            first.start()
            assert await first.subscribed(10)
            flow = threading.Thread(target=publish)
            flow.start()
            await asyncio.sleep(0.4)
            await first.stop()
            stored_by_first = reg.count_readings()
            second = collector()
            second.start()
            while reg.count_readings() < count and flow.is_alive() or time.monotonic() < deadline[0]:
                if reg.count_readings() >= count:
                    break
                await asyncio.sleep(0.05)
            flow.join()
            await second.stop()
            return stored_by_first

        deadline = [time.monotonic() + 15]
        stored_by_first = asyncio.run(main())
        dev.loop_stop()
        dev.disconnect()
    assert 0 < stored_by_first < count
    assert reg.device(mac)["readings"] == {"received": count, "missing": 0, "duplicates": 0, "restarts": 0,
                                           "last_seq": count - 1}
