"""The agent's MQTT transport over TLS to a real Mosquitto: with the CA file
it drains the outbox in order and each PUBACK acks its row; with a CA that
did not sign the broker's certificate it never connects and says why, once."""
import logging
import time

import pytest

from harness import make_tls_files
from provisioning.mosquitto import Acl
from rpi_agent.outbox import Outbox
from rpi_agent.transport import Transport
from support.mqtt_observer import Observer

pytestmark = pytest.mark.mosquitto


def _transport(ob, broker, ca):
    return Transport(ob, "rpi_agent_0000000000ee", broker.host, broker.tls_port, "agent", "a-pass",
                     "u4/302/device", '{"status": "offline"}', tls=True, ca_file=str(ca), backoff_max=1)


def _drive(t, done, seconds):
    """The agent's loop, for the transport alone: until done() or `seconds`."""
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        t.poll(0.05)


def test_tls_with_the_ca_file_drains_the_outbox_in_order(mosquitto, tls_files, tmp_path):
    broker = mosquitto(users={"agent": "a-pass", "obs": "o-pass"},
                       acl=Acl().allow("agent", "readwrite", "u4/302/#").allow("obs", "read", "#"))
    obs = Observer(broker.host, broker.port, "obs", "o-pass")
    obs.subscribe("u4/302/#")
    ob = Outbox(str(tmp_path / "o.sqlite"))
    ob.add_many([(i, "u4/302/temperature", '{"value": 21.5, "seq": %d}' % i) for i in range(5)], time.time())
    t = _transport(ob, broker, tls_files["ca"])
    t.start()
    try:
        _drive(t, t.connected.is_set, 10)
        assert t.connected.is_set(), "no TLS connection with the CA that signed the broker"
        _drive(t, lambda: ob.acked() == 5, 10)
        assert ob.acked() == 5 and t.sent == 5
        assert ob.flush() == 5 and len(ob) == 0
        got = obs.wait_for(lambda topic, p: topic == "u4/302/temperature", 5, count=5, what="the 5 readings")
        assert [m.payload for m in got] == [b'{"value": 21.5, "seq": %d}' % i for i in range(5)]
    finally:
        t.stop()
        obs.close()
        ob.close()


def test_a_ca_that_did_not_sign_the_broker_is_refused_and_said_once(mosquitto, tmp_path, caplog):
    broker = mosquitto(users={"agent": "a-pass"}, acl=Acl().allow("agent", "readwrite", "u4/302/#"))
    (tmp_path / "other").mkdir()
    other = make_tls_files(tmp_path / "other", "other")
    ob = Outbox(str(tmp_path / "o.sqlite"))
    t = _transport(ob, broker, other["ca"])
    caplog.set_level(logging.WARNING, logger="rpi_agent.mqtt")
    t.start()
    try:
        deadline = time.monotonic() + 10
        said = []
        while time.monotonic() < deadline and not said:
            said = [r.getMessage() for r in caplog.records if "cannot connect" in r.getMessage()]
            t.poll(0.1)
        assert said and "certificate verify failed" in said[0], said
        tried = t.attempts
        _drive(t, lambda: False, 2.5)  # tried again every second (backoff_max=1): nothing new to say
        assert t.attempts >= tried + 2, "not tried again within the backoff"
        assert len([r for r in caplog.records if "cannot connect" in r.getMessage()]) == 1
        assert not t.connected.is_set()
    finally:
        t.stop()
        ob.close()


def test_a_burst_of_messages_over_tls_is_read_without_waiting_for_more(mosquitto, tls_files, tmp_path):
    """Orders (or a display's readings) in a burst: the transport reads them as
    they come, TLS records that select() cannot see included (paho's own loop
    looks at the SSL socket's pending bytes; the agent's loop has to as well)."""
    broker = mosquitto(users={"agent": "a-pass", "obs": "o-pass"},
                       acl=Acl().allow("agent", "readwrite", "u4/302/#").allow("obs", "readwrite", "u4/302/#"))
    ob = Outbox(str(tmp_path / "o.sqlite"))
    got = []
    t = _transport(ob, broker, tls_files["ca"])
    t.on_message = lambda topic, raw: got.append(raw)
    t.subscribe("u4/302/+/command")
    t.start()
    obs = Observer(broker.host, broker.port, "obs", "o-pass")
    try:
        _drive(t, t.connected.is_set, 10)
        _drive(t, lambda: False, 0.3)  # the subscription's SUBACK
        obs.publish("u4/302/device/command", b'{"order": "status", "n": 0}')  # the observer is connected
        for i in range(1, 200):
            obs.client.publish("u4/302/device/command", b'{"order": "status", "n": %d}' % i, qos=0)
        _drive(t, lambda: len(got) == 200, 10)
        assert len(got) == 200, "%d of 200 read" % len(got)
        assert got[-1] == b'{"order": "status", "n": 199}'
    finally:
        t.stop()
        obs.close()
        ob.close()
