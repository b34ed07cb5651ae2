"""The collector's receiver child process (provisioning/receiver.py): it dies
with the stub (even a SIGKILLed one), is started again if it dies alone, and
never acknowledges on a connection a message that came on an earlier one."""
import os
import signal
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from support import proctree  # noqa: E402
from support.stub_helpers import handshake, mqtt_client, wait_until  # noqa: E402

from provisioning import receiver  # noqa: E402
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
