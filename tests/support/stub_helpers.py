"""Helpers for the server-stub tests: a device's HTTP handshake and MQTT clients."""
import json
import threading
import time

import paho.mqtt.client as mqtt
import requests


def handshake(stub, mac):
    """credentials + config as a device does it: -> (login, password, config)."""
    cred = requests.get(stub.url + "/device/credentials", params={"mac": mac}, timeout=5)
    assert cred.status_code == 200, (cred.status_code, cred.text)
    body = cred.json()
    cfg = requests.get(stub.url + "/device/config", auth=(body["login"], body["password"]), timeout=5)
    assert cfg.status_code == 200, (cfg.status_code, cfg.text)
    return body["login"], body["password"], cfg.json()


class Client:
    """A connected paho client recording CONNACK, SUBACK codes and messages."""

    def __init__(self, stub, user, password, client_id=None):
        self.messages = []
        self.got = threading.Event()
        self.connack = None
        self.connected = threading.Event()
        self.suback = {}
        self._subscribed = threading.Event()
        c = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                      client_id=client_id or "t-%s-%d" % (user, time.monotonic_ns() % 10**9))
        if user is not None:
            c.username_pw_set(user, password)
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        c.connect(stub.mqtt_host, stub.mqtt_port, keepalive=30)
        c.loop_start()
        self.connected.wait(5)

    def _on_connect(self, client, userdata, flags, reason_code, props):
        self.connack = reason_code
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, props):
        self.suback[mid] = [rc.value for rc in reason_codes]
        self._subscribed.set()

    def _on_message(self, client, userdata, msg):
        self.messages.append((msg.topic, msg.payload))
        self.got.set()

    @property
    def accepted(self):
        return self.connack is not None and not self.connack.is_failure

    def subscribe(self, topic, qos=1):
        self._subscribed.clear()
        rc, mid = self.client.subscribe(topic, qos=qos)
        assert self._subscribed.wait(5), "no SUBACK for %s" % topic
        return self.suback[mid][0]

    def publish(self, topic, payload, qos=1):
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(5)
        return info

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(predicate(t, p) for t, p in list(self.messages)):
                return True
            time.sleep(0.02)
        return False

    def close(self):
        # disconnect() first wakes the network thread; loop_stop() alone waits out its select.
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(fn, timeout=5.0, interval=0.05):
    """Poll fn() until it returns something truthy; returns the last value."""
    deadline = time.monotonic() + timeout
    value = fn()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = fn()
    return value


def try_login(stub, user, password, timeout=5.0):
    """One CONNECT without a network thread: True if the broker accepts it."""
    result = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="probe-%d" % (time.monotonic_ns() % 10**9))
    if user is not None:
        c.username_pw_set(user, password)
    c.on_connect = lambda cl, ud, flags, rc, props: result.append(not rc.is_failure)
    try:
        c.connect(stub.mqtt_host, stub.mqtt_port, keepalive=10)
    except OSError:
        return False  # nobody listening (a broker restarting)
    deadline = time.monotonic() + timeout
    while not result and time.monotonic() < deadline:
        if c.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS and not result:
            result.append(False)  # the broker closed the socket
    c.disconnect()
    return bool(result and result[0])
