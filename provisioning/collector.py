"""The collector: subscribes to every device topic, validates, stores in batches.

A paho client in a child process (receiver.py) receives; its batches of raw
messages go to a deque here and, for the first one after a drain, wake the
server's event loop; the loop lets `interval` seconds of messages gather (not
when a backlog is there already), validates each message completely and
stores the good ones in one transaction, so ingest keeps up with the broker
without a database round trip per message, and a reading waits at most
`interval` plus one batch before it is stored (nothing polls when idle).

Nothing the broker handed over is lost on the way to SQLite:
- with `manual_ack` (Mosquitto) a QoS 1 message is acknowledged only once the
  transaction holding it committed; the session is persistent (fixed client id,
  clean start off; with MQTT 5 a session expiry of a day), so what was not acknowledged
  when the stub died is sent again by the broker, and the registry's unique
  key on (topic, unitID, subID, epoch, seq) stores a redelivery once, and the
  per-device counts (seqcount.py) know it for a duplicate;
- a batch the database refuses for one bad row is retried row by row: only
  that row is dropped (and counted);
- while the store cannot write (disk full, I/O error) nothing is acknowledged:
  the messages stay in the inbox and in the broker's session, the condition is
  logged once and shown in stats(), and storing resumes when space returns.
Bad messages are counted per reason; nothing here raises out of the loop.
"""
import asyncio
import collections
import json
import logging
import math
import re
import sqlite3
import time

from provisioning import attribution, seqcount
from provisioning.receiver import Receiver

log = logging.getLogger("neoc.collector")

MAX_PAYLOAD = 16 * 1024
MAX_BATCH = 5000  # per loop turn, so a flood never stalls the HTTP side for long
# A batch this large already pays for its transaction: drained at once, without
# waiting `interval` for more (under a flood that wait only added to every reading's lag).
GATHERED = 200
MAX_DEPTH = 16    # JSON nesting; a reading or a status needs two or three
MAX_TEXT = 64     # unitID, subID, value_units
INT64 = 2 ** 63   # what an SQLite INTEGER holds
STORE_RETRY = 1.0  # s between tries while the store cannot write
MAX_LAGS = 100000  # the last readings whose lag stats() reports
IDLE_WAKE = 1.0    # s: an idle collector looks at its inbox this often all the same
SCALARS = (int, float, bool)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')


class Invalid(ValueError):
    """A message the collector refuses; its text is the counter's key."""


def _depth(payload):
    """Deepest nesting of a JSON text, strings skipped."""
    depth = deepest = 0
    for c in _STRINGS.sub(b'""', payload):
        if c in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in b"]}":
            depth -= 1
    return deepest


def _text(data, key, required=False):
    """A short string field that SQLite can store as UTF-8 and a log can show."""
    value = data.get(key)
    if value is None:
        if required:
            raise Invalid("missing " + key)
        return None
    if key == "subID" and isinstance(value, int) and not isinstance(value, bool) and -INT64 <= value < INT64:
        return str(value)  # an I2C address sent as a number
    if not isinstance(value, str) or (required and not value):
        raise Invalid("%s not a string" % key)
    if len(value) > MAX_TEXT:
        raise Invalid("%s too long" % key)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid("%s not UTF-8" % key) from None
    if _CONTROL.search(value):
        raise Invalid("%s has control characters" % key)
    return value


_decode_json = json.JSONDecoder().decode


def _json_scalar(value):
    """json.dumps of a finite int, float or bool (classify() checked it), at a tenth of its cost."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return repr(value)


def classify(topic, payload):
    """-> ("ignored", None) | ("status", dict) | ("reading", dict); raises Invalid.

    Follows the campus datacollector: topics `building/room/kind`, those
    starting with `_` or `TestTopic` are ignored. A message without `value` is a
    module status when it carries status fields (frequency, sensors, status).
    Everything the store will write is checked here, so that a batch only
    holds rows SQLite takes."""
    if topic.startswith("_") or topic.startswith("TestTopic"):
        return "ignored", None
    parts = topic.split("/")
    if len(parts) != 3 or not all(parts) or _CONTROL.search(topic):
        raise Invalid("topic not building/room/kind")
    if len(payload) > MAX_PAYLOAD:
        raise Invalid("payload too large")
    payload = bytes(payload)
    # Counting brackets is cheap; the exact scan runs only on payloads that have many.
    if payload.count(b"[") + payload.count(b"{") > MAX_DEPTH and _depth(payload) > MAX_DEPTH:
        raise Invalid("json nested too deep")
    try:
        try:
            # UTF-8 text straight to the decoder: json.loads first guesses the encoding of bytes.
            data = _decode_json(payload.decode("utf-8"))
        except ValueError:  # what the fast way does not take (a BOM, UTF-16) goes the usual way
            data = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Invalid("bad json") from None
    if not isinstance(data, dict):
        raise Invalid("payload not an object")
    unit_id = _text(data, "unitID", required=True)
    if "value" not in data:
        if parts[2] == "device" or any(k in data for k in ("frequency", "sensors", "status")):
            try:
                json.dumps(data, allow_nan=False)
            except ValueError:
                raise Invalid("status not storable (NaN or Infinity)") from None
            return "status", data
        raise Invalid("missing value")
    value = data["value"]
    if (not isinstance(value, SCALARS) or (isinstance(value, float) and not math.isfinite(value))
            or (isinstance(value, int) and not -INT64 <= value < INT64)):
        raise Invalid("value not a number or boolean")
    sub_id = _text(data, "subID")
    units = _text(data, "value_units")
    seq = data.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise Invalid("seq not an integer")
    if seq is not None and not 0 <= seq < INT64:
        raise Invalid("seq out of range")
    stamp = data.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not 0 < stamp < 1e11:
        stamp = None  # not stored: only the collector's lag is measured from it
    return "reading", {"topic": topic, "building": parts[0], "room": parts[1], "module": parts[2],
                       "unitID": unit_id, "subID": sub_id, "value": value, "value_units": units, "seq": seq,
                       "timestamp": stamp}


def _printable(text, limit=120):
    # A topic or reason goes into the server log: no forged lines.
    return text[:limit].encode("unicode_escape").decode("ascii")


class Collector:
    """manual_ack: acknowledge QoS 1 messages after their commit (Mosquitto); else
    paho acknowledges on receipt (the embedded broker, which lives and dies with
    the stub anyway).

    mqtt5: MQTT 5 with a session expiry and a receive maximum the broker honours
    (a broker someone else runs). Without it MQTT 3.1.1 with a persistent session
    (clean session off): paho decodes an MQTT 5 PUBLISH at twice the CPU of a
    3.1.1 one (58 against 29 us at QoS 0, 78 against 47 at QoS 1, measured here),
    which is the collector's receive path. A 3.1.1 session's messages in flight are
    bounded by the broker's max_inflight_messages: the stub's own Mosquitto raises
    it (provisioning/broker.py). Default: MQTT 5 with manual_ack, else 3.1.1."""

    def __init__(self, registry, host, port, user, password, interval=0.02, on_readings=None,
                 on_status=None, client_id="neoc_collector", manual_ack=False, on_subscribed=None, mqtt5=None):
        self.registry = registry
        self.host, self.port = host, port
        self.user, self.password = user, password
        self.interval = interval
        self.on_readings = on_readings
        self.on_status = on_status
        self.manual_ack = manual_ack
        self.inbox = collections.deque()
        self.counters = collections.Counter()
        self.rejects = collections.deque(maxlen=100)  # (time, topic, reason) for the admin API
        self._task = None
        self._closing = False  # stop(): the drain task ends at its next turn
        self._loop = None
        self._wake = None    # asyncio.Event: the inbox has something
        self._armed = False  # the receiver's thread wakes the loop at its next batch
        self._units = attribution.Units(registry)
        # Per device, from `seq`: received, missing (gaps), duplicates, restarts (seqcount.py).
        self.seq_counts = seqcount.SeqCounts(registry.seq_counts())
        # Seconds from a reading's own timestamp (the device's clock) to its commit here.
        self.lags = collections.deque(maxlen=MAX_LAGS)
        self.last_stored = None  # time.time() of the last commit that stored readings
        self.last_received = None  # when the receiver got the newest message of that commit
        self.mqtt5 = manual_ack if mqtt5 is None else mqtt5
        # The broker connection lives in a child process (receiver.py): paho's decoding
        # does not share this process's GIL with the drain and the HTTP server.
        # on_subscribed: called (receiver's thread) once the broker holds our subscription.
        self.receiver = Receiver(host, port, user, password, client_id, self.mqtt5, manual_ack,
                                 on_messages=self._on_messages, on_subscribed=on_subscribed)
        self.connected = self.receiver.connected

    def _on_messages(self, batch):
        # The receiver's reader thread: no parsing here, just hand over (and wake the loop
        # once per batch).
        self.inbox.extend(batch)
        if self._armed:
            self._armed = False
            self._loop.call_soon_threadsafe(self._wake.set)

    def prepare(self):
        """Start the receiver process early; it connects at start()."""
        self.receiver.launch()

    def start(self):
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.receiver.start()
        self._task = self._loop.create_task(self._drain_forever())

    async def stop(self):
        if self._task:
            # Told to end, not cancelled: Python 3.11's wait_for swallows a cancellation
            # that lands as the inbox wakes it, and the task then drained on for ever with
            # stop() waiting on it (a hang seen under load in the receiver's stop test).
            self._closing = True
            self._wake.set()
            await self._task
        self._armed = False
        # The receiver stops reading and hands over what it received; that is stored and
        # acknowledged while its connection is still up (not sent again at the next start,
        # to be counted as duplicates); then it disconnects and ends.
        loop = asyncio.get_running_loop()
        for step in (self.receiver.pause, self.receiver.stop, None):
            try:
                self.drain()
            except Exception:
                log.exception("collector: last batch failed")
            if step is not None:
                await loop.run_in_executor(None, step)

    async def subscribed(self, timeout):
        """Wait until the broker holds our subscription (the receiver starts in a
        fraction of a second): -> False if it did not within `timeout` s."""
        return await asyncio.get_running_loop().run_in_executor(None, self.receiver.subscribed.wait, timeout)

    def publish(self, topic, payload, qos=1):
        return self.receiver.publish(topic, payload, qos)

    async def _drain_forever(self):
        me = asyncio.current_task()
        # cancelling(): a cancellation wait_for swallowed (asyncio.run's at its end) ends it too.
        while not self._closing and not me.cancelling():
            if self.registry.store_error is not None:
                await asyncio.sleep(STORE_RETRY)
            elif len(self.inbox) < GATHERED:
                # Armed before the inbox is looked at: a message appended after the look
                # finds the flag set and wakes us.
                self._wake.clear()
                self._armed = True
                if not self.inbox:
                    try:
                        await asyncio.wait_for(self._wake.wait(), IDLE_WAKE)
                    except asyncio.TimeoutError:
                        pass
                self._armed = False
                if self._closing or me.cancelling():
                    return
                await asyncio.sleep(self.interval)  # let a batch gather
            else:
                await asyncio.sleep(0)  # a backlog: drain on, the HTTP side served in between
            try:
                self.drain(MAX_BATCH)
            except Exception:  # a broken batch must not stop collection
                log.exception("collector batch failed")
                self.counters["batch errors"] += 1

    def _reject(self, received, topic, reason):
        self.counters["invalid"] += 1
        self.counters["invalid: " + reason] += 1
        self.rejects.append((received, topic, reason))
        log.warning("rejected message on %s: %s", _printable(topic), reason)

    def drain(self, limit=None):
        """Store up to `limit` messages of the inbox: -> readings stored."""
        taken = []
        while self.inbox and (limit is None or len(taken) < limit):
            taken.append(self.inbox.popleft())
        if not taken:
            return 0
        rows, readings, owners, statuses = [], [], [], []
        batch = self.seq_counts.batch(self.registry.stored_value)
        for topic, payload, received, _token, qos in taken:
            try:
                kind, data = classify(topic, payload)
                owner = None if kind == "ignored" else self._units.owner(topic, data["unitID"])
                if kind != "ignored" and owner is None:
                    raise Invalid("unitID not of a device at this location")
            except Invalid as exc:
                self._reject(received, topic, str(exc))
                continue
            if kind == "ignored":
                self.counters["ignored"] += 1
            elif kind == "status":
                statuses.append((topic, data["unitID"], data, received))
            else:
                value = _json_scalar(data["value"])
                epoch = batch.reading(owner, topic, data["unitID"], data["subID"], data["seq"], value)
                if epoch is None:
                    continue  # stored already: a redelivery
                data["received_at"] = received
                readings.append(data)
                owners.append(owner)
                rows.append((topic, data["building"], data["room"], data["module"], data["unitID"],
                             data["subID"], value, data["value_units"], data["seq"], received, epoch))

        def counts(refused):
            for i in refused:
                batch.refused(owners[i])
            return batch.rows()
        try:
            stored, refused = self.registry.store_batch(rows, statuses, counts)
        except sqlite3.OperationalError as exc:
            # The store cannot write: keep everything, unacknowledged, in order.
            self.inbox.extendleft(reversed(taken))
            self.registry.write_failed(exc)  # logged once, not per message
            self.counters["store retries"] += 1
            return 0
        batch.commit()
        self.registry.write_ok()
        now = time.time()
        if stored:
            self.last_stored, self.last_received = now, taken[-1][2]
        skip = set(refused)
        for i, r in enumerate(readings):
            if r["timestamp"] is not None and i not in skip:
                self.lags.append(now - r["timestamp"])
        for i in refused:
            self._reject(rows[i][9], rows[i][0], "store refused")
        self.counters["readings"] += stored
        # Beyond what the counts caught: rows the store's unique key skipped (a registry
        # from before the counts, whose highest seqs are not known).
        duplicates = batch.duplicates + len(rows) - len(refused) - stored
        if duplicates:
            self.counters["duplicates"] += duplicates
        if batch.missing:
            self.counters["missing (seq gaps)"] += batch.missing
        if batch.restarts:
            self.counters["seq restarts"] += batch.restarts
        self.counters["statuses"] += len(statuses)
        if self.manual_ack:
            # After a reconnection those of the previous connection are not acknowledged
            # (receiver.py): the broker sends them again and the counts know them.
            tokens = [token for _, _, _, token, qos in taken if qos]
            if tokens:
                self.receiver.ack(tokens)
        if self.on_readings and readings:
            skip = set(refused)
            self.on_readings([r for i, r in enumerate(readings) if i not in skip],
                             {d: seqcount.public(self.seq_counts.states.get(d)) for d in set(owners)})
        if self.on_status:
            for topic, _, data, received in statuses:
                self.on_status(topic, data, received)
        return stored

    def stats(self):
        out = {"connected": self.connected.is_set(), "queued": len(self.inbox),
               "counters": dict(self.counters),
               "recent_rejects": [{"received_at": t, "topic": tp, "reason": r} for t, tp, r in self.rejects],
               "store": "ok", "lag": lag_summary(self.lags), "last_stored": self.last_stored,
               "last_received": self.last_received,
               # The child process that holds the broker connection (receiver.py).
               "receiver": {"pid": self.receiver.proc.pid if self.receiver.proc else None,
                            "restarts": self.receiver.restarts}}
        out["store"] = store_state(self.registry)
        return out


def store_state(registry):
    """"ok", or what stops the registry writing and since when (admin API, live page)."""
    if registry.store_error is None:
        return "ok"
    since, message = registry.store_error
    return "cannot write since %s: %s" % (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)), message)


def lag_summary(lags):
    """p50/p99/max (s) of the collector's lag over the readings kept, None without any."""
    values = sorted(lags)
    if not values:
        return {"readings": 0, "p50": None, "p99": None, "max": None}

    def pick(p):
        return round(values[min(len(values) - 1, int(p / 100.0 * len(values)))], 4)
    return {"readings": len(values), "p50": pick(50), "p99": pick(99), "max": round(values[-1], 4)}
