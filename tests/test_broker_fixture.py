"""The Mosquitto fixture is a real broker: passwords, ACLs, anonymous refusal, TLS."""
import ssl
import threading

import paho.mqtt.client as mqtt
import pytest

from provisioning.mosquitto import Acl

pytestmark = pytest.mark.mosquitto


class Sub:
    """A paho subscriber that records what it receives and its SUBACK codes."""

    def __init__(self, broker, user, password, topic):
        self.messages = []
        self.granted = None
        self.subscribed = threading.Event()
        self.got = threading.Event()
        c = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sub-" + user)
        c.username_pw_set(user, password)
        c.on_connect = lambda cl, ud, flags, rc, props: cl.subscribe(topic, qos=1)
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        c.connect(broker.host, broker.port)
        c.loop_start()
        assert self.subscribed.wait(5), "no SUBACK"

    def _on_subscribe(self, client, userdata, mid, reason_codes, props):
        self.granted = [rc.value for rc in reason_codes]
        self.subscribed.set()

    def _on_message(self, client, userdata, msg):
        self.messages.append((msg.topic, msg.payload))
        self.got.set()

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def publish(broker, user, password, topic, payload, port=None, tls_context=None):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub-" + user)
    c.username_pw_set(user, password)
    if tls_context:
        c.tls_set_context(tls_context)
    c.connect(broker.host, port or broker.port)
    c.loop_start()
    info = c.publish(topic, payload, qos=1)
    info.wait_for_publish(5)
    c.loop_stop()
    c.disconnect()
    return info


def rules():
    return (Acl().allow("collector", "read", "+/+/+")
            .allow("senso_a", "write", "u4/302/+").allow("senso_a", "read", "u4/302/+/command"))


USERS = {"collector": "c-pass", "senso_a": "a-pass"}


def test_acl_denies_publish_outside_the_device_location(mosquitto):
    broker = mosquitto(users=USERS, acl=rules())
    sub = Sub(broker, "collector", "c-pass", "+/+/+")
    try:
        publish(broker, "senso_a", "a-pass", "u4/999/temperature", b"denied")
        publish(broker, "senso_a", "a-pass", "u4/302/temperature", b"allowed")
        assert sub.got.wait(5)
        # Mosquitto delivers in order: had the denied one passed, it would be first.
        assert sub.messages == [("u4/302/temperature", b"allowed")]
    finally:
        sub.close()


def test_acl_refuses_subscription_to_another_room_commands(mosquitto):
    broker = mosquitto(users=USERS, acl=rules())
    sub = Sub(broker, "senso_a", "a-pass", "u4/999/+/command")
    try:
        publish(broker, "collector", "c-pass", "u4/999/device/command", b"x")  # collector cannot write either
        assert not sub.got.wait(0.5)
        assert sub.messages == []
    finally:
        sub.close()


def test_anonymous_and_wrong_password_are_refused(mosquitto):
    broker = mosquitto(users=USERS, acl=rules())
    for user, password in ((None, None), ("senso_a", "wrong")):
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        if user:
            c.username_pw_set(user, password)
        result = {}
        done = threading.Event()
        c.on_connect = lambda cl, ud, flags, rc, props: (result.setdefault("rc", rc), done.set())
        c.connect(broker.host, broker.port)
        c.loop_start()
        assert done.wait(5)
        c.loop_stop()
        assert result["rc"].is_failure, (user, result)


def test_tls_listener_verifies_with_the_right_ca_and_refuses_a_wrong_one(mosquitto, tls_files, tmp_path):
    from harness import make_tls_files
    broker = mosquitto(users=USERS, acl=rules())
    sub = Sub(broker, "collector", "c-pass", "+/+/+")
    try:
        good = ssl.create_default_context(cafile=str(tls_files["ca"]))
        publish(broker, "senso_a", "a-pass", "u4/302/humidity", b"over tls", port=broker.tls_port, tls_context=good)
        assert sub.got.wait(5)
        assert sub.messages == [("u4/302/humidity", b"over tls")]
    finally:
        sub.close()
    other = make_tls_files(tmp_path, name="other")
    bad = ssl.create_default_context(cafile=str(other["ca"]))
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.tls_set_context(bad)
    with pytest.raises(ssl.SSLCertVerificationError):
        c.connect(broker.host, broker.tls_port)


def test_reload_applies_a_new_password_without_restart(mosquitto):
    broker = mosquitto(users=USERS, acl=rules())
    pid = broker.proc.pid
    broker.users["senso_a"] = "new-pass"
    broker.reload()
    import time
    time.sleep(0.3)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.username_pw_set("senso_a", "a-pass")
    rc = []
    done = threading.Event()
    c.on_connect = lambda cl, ud, flags, r, props: (rc.append(r), done.set())
    c.connect(broker.host, broker.port)
    c.loop_start()
    assert done.wait(5)
    c.loop_stop()
    assert rc[0].is_failure
    publish(broker, "senso_a", "new-pass", "u4/302/x", b"1")
    assert broker.proc.pid == pid
