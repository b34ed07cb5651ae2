# The board's ONE MQTT connection (umqtt.simple, vendored): connect with a
# last will on <base>/device, one subscription to <base>/+/command, keepalive
# pings, and reconnection that closes the socket it replaces.
# TLS is not offered: umqtt.simple 1.3.4 imports `ussl`, absent from
# MicroPython 1.29, so the link is plain MQTT (port 1883).
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


# This module is what umqtt.simple sees as its `socket` module (getaddrinfo,
# socket): one module's names instead of a class of its own.
simple.socket = sys.modules[__name__]


class Link:
    def __init__(self, creds, mac, base, on_message, will):
        self.client = simple.MQTTClient("neOSensor_" + mac.replace(":", ""),
                                        creds.get("mqtt_server") or "neocampus.univ-tlse3.fr",
                                        port=creds.get("mqtt_port") or 1883,
                                        user=creds["mqtt_login"], password=creds["mqtt_passwd"],
                                        keepalive=_KEEPALIVE)
        self.client.set_callback(on_message)
        self.client.set_last_will(base + "/device", will)
        self.base = base
        self.up = False
        self.connects = 0
        self.errors = 0
        self._sent = 0
        self._head = bytearray(b"\x30\0\0\0\0")  # PUBLISH, QoS 0; 4 length bytes at most

    def connect(self):
        """True when connected (and subscribed); False after a failure."""
        self.close()
        try:
            self.client.connect()
            self.client.subscribe(self.base + "/+/command")
        except Exception as e:  # OSError, MQTTException, or umqtt's asserts
            print("mqtt: connect to %s:%d failed: %r" % (self.client.server, self.client.port, e))
            self.close()
            return False
        self.up = True
        self.connects += 1
        self._sent = time.ticks_ms()
        print("mqtt: connected to %s:%d as %s" % (self.client.server, self.client.port,
                                                  self.client.user))
        return True

    def close(self):
        self.up = False
        sock = self.client.sock
        self.client.sock = None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def publish(self, topic, parts):
        """QoS 0 PUBLISH of a payload given as a list of str parts, written one
        by one (umqtt's publish takes the whole payload in one buffer: one
        block of a few hundred bytes that a fragmented heap may not have)."""
        if not self.up:
            return False
        c = self.client
        h = self._head
        try:
            n = 2 + len(topic)
            for p in parts:
                # The wire length counts UTF-8 bytes: each part's bytes are
                # made, counted and dropped, never all of them at once.
                n += len(p.encode())
            i = 1
            while n > 0x7F:
                h[i] = (n & 0x7F) | 0x80
                n >>= 7
                i += 1
            h[i] = n
            c.sock.write(h, i + 1)
            c._send_str(topic)
            for p in parts:
                c.sock.write(p)  # a str is a buffer of its UTF-8 bytes on MicroPython
        except Exception as e:
            self._lost(e)
            return False
        self._sent = time.ticks_ms()
        return True

    def poll(self):
        """Deliver pending commands; ping before the broker's keepalive runs out."""
        if not self.up:
            return
        try:
            if time.ticks_diff(time.ticks_ms(), self._sent) > _KEEPALIVE * 500:
                self.client.ping()
                self._sent = time.ticks_ms()
            # check_msg() returns None both for "nothing" and after a message:
            # a few calls drain a burst without blocking.
            for _ in range(4):
                if not self.up:
                    break
                self.client.check_msg()
        except Exception as e:
            self._lost(e)

    def _lost(self, e):
        self.errors += 1
        print("mqtt: link lost (%r)" % (e,))
        self.close()
