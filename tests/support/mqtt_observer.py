"""An MQTT observer for tests and benches: one paho client that connects with a
login, subscribes and waits for the SUBACK, records every message it receives
as (time, topic, payload), waits for messages matching a predicate, and sends
orders, each step waiting for the broker's answer so that a test never races
its own client.

    obs = Observer("127.0.0.1", 1883, "operator", "op-pass")
    assert obs.subscribe("u4/302/#") in (0, 1)
    mark = obs.mark()
    obs.order("u4/302/temperature/command", "all", "acquire")
    got = obs.wait_for(lambda topic, payload: topic == "u4/302/temperature", 5, start=mark,
                       what="a temperature reading")
    obs.close()

Tests import it as `support.mqtt_observer` (tests/ is on their path), benches
as `tests.support.mqtt_observer` (bench/ puts the repository root on its path).
It imports nothing of the project, so that either name works.
"""
import collections
import json
import threading
import time

import paho.mqtt.client as mqtt

Message = collections.namedtuple("Message", "time topic payload")


class Observer:
    """A connected paho client (its network thread running).

    The constructor waits for the CONNACK: `connack` is its reason code (None
    if none came within `timeout`) and `accepted` says whether the broker let
    the client in; a refused client is not an error here, as tests of refusal
    need one. `messages` is the list of every Message received, in order;
    `clock` stamps them (time.time by default, time.monotonic for benches).
    `client` is the paho client itself, for what this class does not cover."""

    def __init__(self, host, port, user=None, password=None, client_id=None, keepalive=30,
                 timeout=5.0, tls=None, clock=time.time):
        self.host, self.port = host, port
        self.messages = []
        self.connack = None
        self._clock = clock
        self._cond = threading.Condition()
        self._subacks = {}
        c = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                      client_id=client_id or "obs-%s-%d" % (user, time.monotonic_ns() % 10**9))
        if user is not None:
            c.username_pw_set(user, password)
        if tls is not None:
            c.tls_set_context(tls)
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        c.connect(host, port, keepalive=keepalive)
        c.loop_start()
        with self._cond:
            self._cond.wait_for(lambda: self.connack is not None, timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- paho callbacks (network thread) ------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, props):
        with self._cond:
            self.connack = reason_code
            self._cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, props):
        with self._cond:
            self._subacks[mid] = [rc.value for rc in reason_codes]
            self._cond.notify_all()

    def _on_message(self, client, userdata, msg):
        with self._cond:
            self.messages.append(Message(self._clock(), msg.topic, msg.payload))
            self._cond.notify_all()

    # -- connection ---------------------------------------------------------------
    @property
    def accepted(self):
        return self.connack is not None and not self.connack.is_failure

    def _need_connection(self, doing):
        if not self.accepted:
            why = "no CONNACK" if self.connack is None else "CONNACK %s" % self.connack
            raise AssertionError("cannot %s: not connected to %s:%s (%s)" % (doing, self.host, self.port, why))

    def subscribe(self, topic, qos=1, timeout=5.0):
        """SUBSCRIBE to one topic filter and wait for its SUBACK: -> its reason
        code (0-2 the granted QoS, 0x80 refused)."""
        self._need_connection("subscribe to %s" % topic)
        rc, mid = self.client.subscribe(topic, qos=qos)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError("SUBSCRIBE %s not sent: %s" % (topic, mqtt.error_string(rc)))
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._subacks, timeout):
                raise AssertionError("no SUBACK for %s within %.1f s" % (topic, timeout))
            return self._subacks.pop(mid)[0]

    def close(self):
        # disconnect() first wakes the network thread; loop_stop() alone waits out its select.
        self.client.disconnect()
        self.client.loop_stop()

    # -- sending ------------------------------------------------------------------
    def publish(self, topic, payload, qos=1, timeout=5.0):
        """Publish (a dict or list is sent as JSON) and wait until it is sent
        (QoS 0: written to the socket; QoS 1: acknowledged by the broker)."""
        self._need_connection("publish on %s" % topic)
        if not isinstance(payload, (bytes, bytearray, str)):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise AssertionError("PUBLISH on %s not sent within %.1f s (rc %s)" % (topic, timeout, info.rc))
        return info

    def order(self, topic, dest, order, value=None, qos=1, timeout=5.0):
        """Send a sensOCampus order {"dest", "order"[, "value"]} on a command topic."""
        body = {"dest": dest, "order": order}
        if value is not None:
            body["value"] = value
        return self.publish(topic, body, qos=qos, timeout=timeout)

    # -- receiving ----------------------------------------------------------------
    def mark(self):
        """The index the next message will get: a `start` for poll/wait_for."""
        with self._cond:
            return len(self.messages)

    def matching(self, predicate=None, start=0):
        """Messages from index `start` for which predicate(topic, payload) holds."""
        with self._cond:
            return [m for m in self.messages[start:] if predicate is None or predicate(m.topic, m.payload)]

    def json_on(self, topic, start=0):
        """JSON payloads received on exactly `topic`, from index `start`, decoded."""
        return [json.loads(m.payload) for m in self.matching(lambda t, p: t == topic, start)]

    def poll(self, predicate=None, timeout=5.0, start=0, count=1):
        """Wait until `count` messages from index `start` match predicate(topic,
        payload) (None: any message): -> the matches, fewer than `count` (maybe
        none) when the timeout passed first."""
        deadline = time.monotonic() + timeout
        found, i = [], start
        with self._cond:
            while True:
                for m in self.messages[i:]:
                    if predicate is None or predicate(m.topic, m.payload):
                        found.append(m)
                i = max(i, len(self.messages))
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self._cond.wait(left)

    def wait_for(self, predicate=None, timeout=5.0, start=0, count=1, what="a matching message"):
        """poll(), but fewer than `count` matches is an AssertionError saying what
        was awaited and what came instead: -> the matches."""
        found = self.poll(predicate, timeout, start, count)
        if len(found) >= count:
            return found
        seen = self.messages[start:]
        tail = "".join("\n  %s %r" % (m.topic, bytes(m.payload[:160])) for m in seen[-8:])
        raise AssertionError("timed out (%.1f s) waiting for %s: %d of %d matched among %d messages "
                             "received%s%s" % (timeout, what, len(found), count, len(seen),
                                               "; the last ones:" if seen else "", tail))
