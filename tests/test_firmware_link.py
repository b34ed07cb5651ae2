"""The firmware's MQTT link writes a payload given in parts with its own QoS 0
PUBLISH header: checked from the MicroPython VM against real Mosquitto, with a
non-ASCII unit (the length counts UTF-8 bytes) and a payload over 127 bytes
(a two-byte remaining length). A publish that finds no memory is dropped whole
and the link, its stream intact, carries the next one."""
import pytest

from harness import ROOT
from toolchain.mpy import compile_tree
from provisioning.mosquitto import Acl
from support.mqtt_observer import Observer

pytestmark = [pytest.mark.slow, pytest.mark.mosquitto, pytest.mark.micropython]

SCRIPT = """
from neosensor import link
creds = {"mqtt_server": "127.0.0.1", "mqtt_port": %d, "mqtt_login": "senso_a", "mqtt_passwd": "a-pass"}
link.setup(creds, "aa:bb:cc:00:11:22", "u4/302", lambda t, m: None, "offline")
assert link.connect()
parts = ['{"value": 12.25', ', "value_units": "\\u00b5g/m3"', ', "pad": "' + "x" * 150 + '"', "}"]
print("sent", link.publish("u4/302/airquality", parts))
import micropython
two = ['{"value": 2', "}"]
micropython.heap_lock()  # no room at all: dropped before a byte is written
sent = link.publish("u4/302/airquality", two)
micropython.heap_unlock()
print("locked", sent, link.up, link.nomem)
print("sent", link.publish("u4/302/airquality", ['{"value": 1', "}"]))
link.close()
"""


def test_parts_arrive_as_one_payload_with_the_right_length(micropython, mosquitto, tmp_path):
    broker = mosquitto(users={"senso_a": "a-pass", "collector": "c-pass"},
                       acl=Acl().allow("senso_a", "write", "u4/302/+").allow("senso_a", "read", "u4/302/+/command")
                       .allow("collector", "read", "#"))
    code = tmp_path / "code"
    compile_tree(ROOT / "firmware" / "lib", code)
    compile_tree(ROOT / "firmware" / "neosensor", code / "neosensor")
    with Observer(broker.host, broker.port, "collector", "c-pass") as sub:
        assert sub.subscribe("u4/#") in (0, 1)
        out = micropython.run(code=SCRIPT % broker.port, path=[code], heap="36k", portable=False)
        assert out.stdout.split("\n", 1)[1].split() == ["sent", "True", "locked", "False", "True", "1",
                                                         "sent", "True"], out.stdout
        received = [m.payload for m in sub.wait_for(None, 5, count=2, what="the two publishes")]
        first = '{"value": 12.25, "value_units": "\u00b5g/m3", "pad": "%s"}' % ("x" * 150)
        # (the last will, "offline", follows: close() drops the socket without DISCONNECT)
        assert received[:2] == [first.encode(), b'{"value": 1}'], received
