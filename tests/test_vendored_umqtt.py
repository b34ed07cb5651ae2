"""Vendored micropython-lib umqtt: unmodified, and it really talks to Mosquitto
from the MicroPython VM (compiled to .mpy as boards run it)."""
import hashlib
import re
import threading

import paho.mqtt.client as mqtt
import pytest

from harness import ROOT
from neoc.mpy import compile_tree
from provisioning.mosquitto import Acl

UMQTT = ROOT / "firmware" / "lib" / "umqtt"


def test_vendored_files_match_the_recorded_hashes():
    table = (UMQTT / "VENDORED.md").read_text()
    rows = re.findall(r"^\| (\w+\.py) \|.*\| ([0-9a-f]{64}) \|$", table, re.M)
    assert {name for name, _ in rows} == {"simple.py", "robust.py"}
    for name, digest in rows:
        assert hashlib.sha256((UMQTT / name).read_bytes()).hexdigest() == digest, name
    assert "MIT" in (UMQTT / "LICENSE").read_text()


PUBLISH = """
from umqtt.simple import MQTTClient
import sys
c = MQTTClient("upy-test", "127.0.0.1", port=%d, user="senso_a", password="a-pass", keepalive=60)
c.connect()
c.publish(b"u4/302/temperature", b'{"value": 21.375}')
c.disconnect()
print("published")
"""


@pytest.mark.slow
@pytest.mark.mosquitto
def test_vendored_umqtt_publishes_from_micropython_to_mosquitto(micropython, mosquitto, tmp_path):
    broker = mosquitto(users={"senso_a": "a-pass", "collector": "c-pass"},
                       acl=Acl().allow("senso_a", "write", "u4/302/+").allow("collector", "read", "#"))
    lib = tmp_path / "lib"
    compile_tree(ROOT / "firmware" / "lib", lib)
    assert (lib / "umqtt" / "simple.mpy").exists()

    got = threading.Event()
    received = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.username_pw_set("collector", "c-pass")
    subscribed = threading.Event()
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe("u4/#")
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: (received.append((m.topic, m.payload)), got.set())
    sub.connect(broker.host, broker.port)
    sub.loop_start()
    try:
        assert subscribed.wait(5)
        # Only the compiled lib is on the path: the .py sources are not.
        result = micropython.run(code=PUBLISH % broker.port, path=[lib], heap="36k", portable=False)
        assert "published" in result.stdout
        assert got.wait(5)
        assert received == [("u4/302/temperature", b'{"value": 21.375}')]
    finally:
        sub.loop_stop()
        sub.disconnect()
