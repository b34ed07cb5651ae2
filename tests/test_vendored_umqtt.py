"""Vendored micropython-lib umqtt.simple, forked: its provenance recorded, its
changes listed and marked, and it really talks to Mosquitto from the MicroPython
VM (compiled to .mpy as boards run it), by its upstream API and by the fork's."""
import re

import pytest

from harness import ROOT
from toolchain.mpy import compile_tree
from provisioning.mosquitto import Acl
from support.mqtt_observer import Observer

UMQTT = ROOT / "firmware" / "lib" / "umqtt"


def test_the_fork_records_its_upstream_and_lists_its_changes():
    table = (UMQTT / "VENDORED.md").read_text()
    import sys
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import vendor_umqtt
    finally:
        sys.path.pop(0)
    assert set(vendor_umqtt.recorded(table)) == {"simple.py"}
    assert sorted(p.name for p in UMQTT.iterdir()) == ["LICENSE", "VENDORED.md", "simple.py"]
    fork = (UMQTT / "simple.py").read_text()
    # Every change marked in the file is one of the numbered changes listed.
    marks = len(re.findall(r"# fork:", fork))
    listed = len(re.findall(r"^\d+\. ", table, re.M))
    assert marks >= 3 and listed >= 3, (marks, listed)
    assert "ussl" not in fork.replace("`ussl`", "") and "import ussl" not in fork
    assert "MIT" in (UMQTT / "LICENSE").read_text()


PUBLISH = """
from umqtt.simple import MQTTClient
import sys
c = MQTTClient("upy-test", "127.0.0.1", port=%d, user="senso_a", password="a-pass", keepalive=60, timeout=5)
c.connect()
c.publish(b"u4/302/temperature", b'{"value": 21.375}')
c.publish_parts("u4/302/humidity", ['{"value": 45', ', "value_units": "%%r.H."', "}"])
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

    with Observer(broker.host, broker.port, "collector", "c-pass") as sub:
        assert sub.subscribe("u4/#") in (0, 1)
        # Only the compiled lib is on the path: the .py sources are not.
        result = micropython.run(code=PUBLISH % broker.port, path=[lib], heap="36k", portable=False)
        assert "published" in result.stdout
        sub.wait_for(None, 5, count=2, what="the two publishes")
        assert [(m.topic, m.payload) for m in sub.messages] == [
            ("u4/302/temperature", b'{"value": 21.375}'),
            ("u4/302/humidity", b'{"value": 45, "value_units": "%r.H."}')]
