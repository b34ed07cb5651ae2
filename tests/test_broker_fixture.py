"""The Mosquitto fixture is a real broker: passwords, ACLs, anonymous refusal, TLS."""
import ssl

import pytest

from provisioning.mosquitto import Acl
from support.mqtt_observer import Observer

pytestmark = pytest.mark.mosquitto


def subscriber(broker, user, password, topic):
    """An Observer subscribed to `topic` (the SUBACK received)."""
    sub = Observer(broker.host, broker.port, user, password)
    sub.subscribe(topic)
    return sub


def publish(broker, user, password, topic, payload, port=None, tls_context=None):
    with Observer(broker.host, port or broker.port, user, password, tls=tls_context) as c:
        return c.publish(topic, payload, qos=1)


def rules():
    return (Acl().allow("collector", "read", "+/+/+")
            .allow("senso_a", "write", "u4/302/+").allow("senso_a", "read", "u4/302/+/command"))


USERS = {"collector": "c-pass", "senso_a": "a-pass"}


def test_acl_denies_publish_outside_the_device_location(mosquitto):
    broker = mosquitto(users=USERS, acl=rules())
    sub = subscriber(broker, "collector", "c-pass", "+/+/+")
    try:
        publish(broker, "senso_a", "a-pass", "u4/999/temperature", b"denied")
        publish(broker, "senso_a", "a-pass", "u4/302/temperature", b"allowed")
        sub.wait_for(what="the allowed publish")
        # Mosquitto delivers in order: had the denied one passed, it would be first.
        assert [(m.topic, m.payload) for m in sub.messages] == [("u4/302/temperature", b"allowed")]
    finally:
        sub.close()


def test_acl_refuses_subscription_to_another_room_commands(mosquitto):
    broker = mosquitto(users=USERS, acl=rules())
    sub = subscriber(broker, "senso_a", "a-pass", "u4/999/+/command")
    try:
        publish(broker, "collector", "c-pass", "u4/999/device/command", b"x")  # collector cannot write either
        assert not sub.poll(timeout=0.5)
        assert sub.messages == []
    finally:
        sub.close()


def test_anonymous_and_wrong_password_are_refused(mosquitto):
    broker = mosquitto(users=USERS, acl=rules())
    for user, password in ((None, None), ("senso_a", "wrong")):
        with Observer(broker.host, broker.port, user, password) as c:
            assert c.connack is not None, (user, "no CONNACK")
            assert c.connack.is_failure, (user, c.connack)


def test_tls_listener_verifies_with_the_right_ca_and_refuses_a_wrong_one(mosquitto, tls_files, tmp_path):
    from harness import make_tls_files
    broker = mosquitto(users=USERS, acl=rules())
    sub = subscriber(broker, "collector", "c-pass", "+/+/+")
    try:
        good = ssl.create_default_context(cafile=str(tls_files["ca"]))
        publish(broker, "senso_a", "a-pass", "u4/302/humidity", b"over tls", port=broker.tls_port, tls_context=good)
        sub.wait_for(what="the publish over TLS")
        assert [(m.topic, m.payload) for m in sub.messages] == [("u4/302/humidity", b"over tls")]
    finally:
        sub.close()
    other = make_tls_files(tmp_path, name="other")
    bad = ssl.create_default_context(cafile=str(other["ca"]))
    with pytest.raises(ssl.SSLCertVerificationError):
        Observer(broker.host, broker.tls_port, tls=bad)


def test_reload_applies_a_new_password_without_restart(mosquitto):
    broker = mosquitto(users=USERS, acl=rules())
    pid = broker.proc.pid
    broker.users["senso_a"] = "new-pass"
    broker.reload()
    import time
    time.sleep(0.3)
    with Observer(broker.host, broker.port, "senso_a", "a-pass") as c:
        assert c.connack is not None and c.connack.is_failure, c.connack
    publish(broker, "senso_a", "new-pass", "u4/302/x", b"1")
    assert broker.proc.pid == pid
