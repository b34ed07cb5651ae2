"""The collector: subscribes to every device topic, validates, stores in batches.

A paho client (its own network thread) only appends raw messages to a deque;
the server's event loop drains it every `interval` seconds, validates each
message and stores the good ones in one transaction, so ingest keeps up with
the broker without a database round trip per message. Bad messages are
counted per reason and logged with their topic; nothing here raises out of
the loop.
"""
import asyncio
import collections
import json
import logging
import math
import threading
import time

import paho.mqtt.client as mqtt

log = logging.getLogger("neoc.collector")

MAX_PAYLOAD = 16 * 1024
MAX_BATCH = 5000  # per loop turn, so a flood never stalls the HTTP side for long
SCALARS = (int, float, bool)


class Invalid(ValueError):
    """A message the collector refuses; its text is the counter's key."""


def classify(topic, payload):
    """-> ("ignored", None) | ("status", dict) | ("reading", dict); raises Invalid.

    Follows the campus datacollector: topics `building/room/kind`, those
    starting with `_` or `TestTopic` are ignored. A message without `value` is a
    module status when it carries status fields (frequency, sensors, status)."""
    if topic.startswith("_") or topic.startswith("TestTopic"):
        return "ignored", None
    parts = topic.split("/")
    if len(parts) != 3 or not all(parts):
        raise Invalid("topic not building/room/kind")
    if len(payload) > MAX_PAYLOAD:
        raise Invalid("payload too large")
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("bad json") from None
    if not isinstance(data, dict):
        raise Invalid("payload not an object")
    unit_id = data.get("unitID")
    if not isinstance(unit_id, str) or not unit_id or len(unit_id) > 64:
        raise Invalid("missing unitID")
    if "value" not in data:
        if parts[2] == "device" or any(k in data for k in ("frequency", "sensors", "status")):
            return "status", data
        raise Invalid("missing value")
    value = data["value"]
    if not isinstance(value, SCALARS) or (isinstance(value, float) and not math.isfinite(value)):
        raise Invalid("value not a number or boolean")
    sub_id = data.get("subID")
    if sub_id is not None and (isinstance(sub_id, bool) or not isinstance(sub_id, (str, int))):
        raise Invalid("subID not a string")
    units = data.get("value_units")
    if units is not None and not isinstance(units, str):
        raise Invalid("value_units not a string")
    seq = data.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise Invalid("seq not an integer")
    return "reading", {"topic": topic, "building": parts[0], "room": parts[1], "module": parts[2],
                       "unitID": unit_id, "subID": None if sub_id is None else str(sub_id),
                       "value": value, "value_units": units, "seq": seq}


class Collector:
    def __init__(self, registry, host, port, user, password, interval=0.1, on_readings=None,
                 on_status=None, client_id="neoc-collector"):
        self.registry = registry
        self.host, self.port = host, port
        self.user, self.password = user, password
        self.interval = interval
        self.on_readings = on_readings
        self.on_status = on_status
        self.inbox = collections.deque()
        self.counters = collections.Counter()
        self.rejects = collections.deque(maxlen=100)  # (time, topic, reason) for the admin API
        self.connected = threading.Event()
        self._task = None
        c = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        c.username_pw_set(user, password)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_disconnect = lambda *a: self.connected.clear()
        c.reconnect_delay_set(0.2, 2)

    def _on_connect(self, client, userdata, flags, reason_code, props):
        if reason_code.is_failure:
            log.error("collector refused by broker: %s", reason_code)
            return
        client.subscribe("+/+/+", qos=1)
        self.connected.set()

    def _on_message(self, client, userdata, msg):
        # Network thread: no parsing here, just hand over.
        self.inbox.append((msg.topic, msg.payload, time.time()))

    def start(self):
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self._task = asyncio.get_running_loop().create_task(self._drain_forever())

    async def stop(self):
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self.client.loop_stop()
        self.client.disconnect()
        self.drain()

    def publish(self, topic, payload, qos=1):
        info = self.client.publish(topic, payload, qos=qos)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    async def _drain_forever(self):
        while True:
            await asyncio.sleep(self.interval if len(self.inbox) < MAX_BATCH else 0)
            try:
                self.drain(MAX_BATCH)
            except Exception:  # a broken batch must not stop collection
                log.exception("collector batch failed")
                self.counters["batch errors"] += 1

    def drain(self, limit=None):
        rows, readings = [], []
        n = 0
        while self.inbox and (limit is None or n < limit):
            n += 1
            topic, payload, received = self.inbox.popleft()
            try:
                kind, data = classify(topic, payload)
            except Invalid as exc:
                reason = str(exc)
                self.counters["invalid"] += 1
                self.counters["invalid: " + reason] += 1
                self.rejects.append((received, topic, reason))
                log.warning("rejected message on %s: %s", topic, reason)
                continue
            if kind == "ignored":
                self.counters["ignored"] += 1
            elif kind == "status":
                self.counters["statuses"] += 1
                self.registry.store_status(topic, data["unitID"], data, received)
                if self.on_status:
                    self.on_status(topic, data, received)
            else:
                data["received_at"] = received
                readings.append(data)
                rows.append((topic, data["building"], data["room"], data["module"], data["unitID"],
                             data["subID"], json.dumps(data["value"]), data["value_units"], data["seq"],
                             received))
        if rows:
            self.registry.store_readings(rows)
            self.counters["readings"] += len(rows)
            if self.on_readings:
                self.on_readings(readings)
        return len(rows)

    def stats(self):
        return {"connected": self.connected.is_set(), "queued": len(self.inbox),
                "counters": dict(self.counters),
                "recent_rejects": [{"received_at": t, "topic": tp, "reason": r} for t, tp, r in self.rejects]}
