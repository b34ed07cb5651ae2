"""Helpers for the server-stub tests: a device's HTTP handshake and MQTT clients."""
import time

import paho.mqtt.client as mqtt
import requests

from support.mqtt_observer import Observer


def handshake(stub, mac):
    """credentials + config as a device does it: -> (login, password, config)."""
    cred = requests.get(stub.url + "/device/credentials", params={"mac": mac}, timeout=5)
    assert cred.status_code == 200, (cred.status_code, cred.text)
    body = cred.json()
    cfg = requests.get(stub.url + "/device/config", auth=(body["login"], body["password"]), timeout=5)
    assert cfg.status_code == 200, (cfg.status_code, cfg.text)
    return body["login"], body["password"], cfg.json()


def mqtt_client(stub, user, password, client_id=None):
    """An Observer (support.mqtt_observer) connected to the stub's broker."""
    return Observer(stub.mqtt_host, stub.mqtt_port, user, password, client_id=client_id)


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
    # The client id holds the login: the stub's brokers refuse one of another login.
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                    client_id="probe-%s-%d" % (user or "anon", time.monotonic_ns() % 10**9))
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
