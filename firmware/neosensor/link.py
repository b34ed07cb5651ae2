# The board's ONE MQTT connection (umqtt.simple, vendored): connect with a
# last will on <base>/device, one subscription to <base>/+/command, keepalive
# pings, and reconnection that closes the socket it replaces. One per board,
# so a module, not a class: its state is module globals (a class and its
# instance would keep ~300 B more of heap).
# MQTT over TLS on port 8883 (or with "tls" in config.json's broker): umqtt
# 1.3.4 wraps its socket with `ussl.wrap_socket`, a module MicroPython 1.29
# no longer has; this module stands in for it too, with neosensor.tls (the
# https client's, verifying the broker when ca.pem is on the flash).
import socket as _socket
import sys
import time
from micropython import const
from umqtt import simple

_TIMEOUT = const(10)  # s: connect and CONNACK/SUBACK waits end well before the watchdog
_KEEPALIVE = const(60)
getaddrinfo = _socket.getaddrinfo


def socket(*args):
    # A socket with a timeout, so that a broker that blackholes the
    # connection cannot hang the board until the watchdog fires (umqtt
    # itself never sets one).
    s = _socket.socket(*args)
    s.settimeout(_TIMEOUT)
    return s


def wrap_socket(sock, server_hostname=None):
    from neosensor.tls import wrap
    return wrap(sock, server_hostname)


# This module is what umqtt.simple sees as its `socket` module (getaddrinfo,
# socket), and as `ussl` (wrap_socket) when the link is TLS: one module's
# names instead of a class of its own.
simple.socket = sys.modules[__name__]


client = None
base = None
up = False
connects = 0
errors = 0
nomem = 0     # messages (in or out) and loop turns dropped for want of memory
_sent = 0
# PUBLISH, QoS 0: up to 4 bytes of remaining length, then the topic's length.
_head = bytearray(7)
_head[0] = 0x30


def setup(creds, mac, topic_base, on_message, will):
    global client, base
    server = creds.get("mqtt_server") or "neocampus.univ-tlse3.fr"
    port = creds.get("mqtt_port") or 1883
    tls = bool(creds.get("mqtt_tls")) or port == 8883
    client = simple.MQTTClient("neOSensor_" + mac.replace(":", ""), server, port=port,
                               user=creds["mqtt_login"], password=creds["mqtt_passwd"],
                               keepalive=_KEEPALIVE, ssl=tls)
    if tls:  # only where it serves: each takes room in a table
        client.ssl_params = {"server_hostname": server}
        sys.modules["ussl"] = sys.modules[__name__]
    client.set_callback(on_message)
    client.set_last_will(topic_base + "/device", will)
    base = topic_base


def connect():
    """True when connected (and subscribed); False after a failure."""
    global up, connects, _sent
    close()
    c = client
    try:
        c.connect()
        c.subscribe(base + "/+/command")
    except Exception as e:  # OSError, MQTTException, or umqtt's asserts
        print("mqtt: connect to %s:%d failed: %r" % (c.server, c.port, e))
        close()
        return False
    up = True
    connects += 1
    _sent = time.ticks_ms()
    print("mqtt: connected to %s:%d as %s%s" % (c.server, c.port, c.user, " over TLS" if c.ssl else ""))
    return True


def close():
    global up
    up = False
    sock = client.sock
    client.sock = None
    if sock is not None:
        try:
            sock.close()
        except OSError:
            pass


def publish(topic, parts):
    """QoS 0 PUBLISH of a payload given as a list of str parts, written one
    by one (umqtt's publish takes the whole payload in one buffer: one
    block of a few hundred bytes that a fragmented heap may not have).
    Out of memory before the first byte is written, the message is dropped
    and the link kept; once writing, nothing is allocated."""
    global _sent, nomem
    if not up:
        return False
    h = _head
    try:
        n = 2 + len(topic)
        for p in parts:
            # The wire length counts UTF-8 bytes: each part's bytes are
            # made, counted and dropped, never all of them at once.
            n += len(p.encode())
    except MemoryError:
        nomem += 1
        return False
    i = 1
    while n > 0x7F:
        h[i] = (n & 0x7F) | 0x80
        n >>= 7
        i += 1
    h[i] = n
    h[i + 1] = len(topic) >> 8
    h[i + 2] = len(topic) & 0xFF
    try:
        s = client.sock
        s.write(h, i + 3)
        s.write(topic)
        for p in parts:
            s.write(p)  # a str is a buffer of its UTF-8 bytes on MicroPython
    except Exception as e:
        _lost(e)
        return False
    _sent = time.ticks_ms()
    return True


def poll():
    """Deliver pending commands; ping before the broker's keepalive runs out."""
    global _sent
    if not up:
        return
    try:
        if time.ticks_diff(time.ticks_ms(), _sent) > _KEEPALIVE * 500:
            client.ping()
            _sent = time.ticks_ms()
        # check_msg() returns None both for "nothing" and after a message:
        # a few calls drain a burst without blocking.
        for _ in range(4):
            if not up:
                break
            client.check_msg()
    except Exception as e:
        _lost(e)


def _lost(e):
    global errors, nomem
    errors += 1
    if isinstance(e, MemoryError):
        nomem += 1
    print("mqtt: link lost (%r)" % (e,))
    close()
