"""Light devices: hundreds of simulated neOSensors in one asyncio process.

Each speaks exactly what a board speaks, through the portable code the
firmware runs (neocampus/): the sensOCampus handshake of
neocampus.sensocampus (credentials, then config with Basic auth; its
transport is synchronous, so `call` runs it once to learn the request, sends
the request as the board's own HTTP client does (campus/boardhttp.py), and
runs it again on the answer), unitIDs and
topics of neocampus.module.Module, payloads of neocampus.payload. What a
light device does not have is the firmware's sampling policy and its
hardware: it makes one reading every 1/rate seconds, its modules in turn,
values drifting like a room's, numbered by one `seq` for the whole device.

Like the firmware, every reading goes into an outbox first (here in memory:
a light device's power cut is simulated by the process, which never dies)
and leaves it on its PUBACK (QoS 1): through a broker outage the device goes
on sampling and sends what queued, in order, once it is back, reconnecting
with the firmware's backoff (doubling, 0.5 to 1.5 jitter) capped lower.
"""
import asyncio
import collections
import math
import random
import time

import aiomqtt

from campus import boardhttp
from neocampus import ids, payload
from neocampus import sensocampus as sc
from neocampus.module import Module

SUB_IDS = {"temperature": 0x18, "humidity": 0x44, "luminosity": 0x39}
# (low, high, period s) of the values a module's readings drift between
DRIFT = {"temperature": (19.0, 24.0, 600.0), "humidity": (38.0, 55.0, 900.0), "luminosity": (120.0, 800.0, 1800.0)}
HTTP_TIMEOUT = 60.0  # s for one HTTP exchange
PHASE_SPREAD = 0.2  # s: devices sample in the first fifth of a second, each at its own moment


class _Ask(Exception):
    """The request a sensocampus call wants sent (its first run)."""


async def call(fn, fetch, *args):
    """Run one neocampus.sensocampus call (one HTTP exchange each) in an event loop:
    fetch(method, url, headers, body) -> (status, body bytes) is awaited in between."""
    def ask(method, url, headers=None, body=None):
        raise _Ask(method, url, headers, body)
    try:
        return fn(ask, *args)
    except _Ask as asked:
        request = asked.args
    answer = await fetch(*request)

    def replay(method, url, headers=None, body=None):
        if (method, url) != request[:2]:
            raise sc.ProtocolError("a second request in one call: %s %s" % (method, url))
        return answer
    return fn(replay, *args)


def fetcher(session):
    """session: boardhttp.Session (the board's own HTTP/1.0 exchange)."""
    return session.fetch


def drift(module, t, phase):
    low, high, period = DRIFT.get(module, (0.0, 100.0, 600.0))
    return low + (high - low) * (0.5 - 0.5 * math.cos(2 * math.pi * (t / period + phase)))


class Stats:
    """What a fleet's light devices did: handshake times, readings made and acknowledged."""

    def __init__(self):
        self.handshakes = []       # seconds each, from power-on to config
        self.handshake_errors = collections.Counter()
        self.made = 0
        self.acked = 0
        self.reconnects = 0
        self.connected = 0


class LightDevice:
    def __init__(self, mac, url, stats, rate=1.0, reconnect_max=5.0, seq=0):
        self.mac = mac
        self.url = url
        self.stats = stats
        self.rate = rate
        self.reconnect_max = reconnect_max
        self.seq = seq           # kept across power cuts, as the firmware keeps it on the flash
        self.outbox = collections.deque()
        self.creds = None
        self.modules = []
        self.base = None
        self.phase = random.random()
        self.handshake_s = None
        self.sampling = True     # False: no new readings, the outbox still drains
        self.state = "off"       # what its MQTT session is doing, for a report
        self.error = None

    # -- boot ---------------------------------------------------------------------
    async def handshake(self, session, tries=8, step=0.5):
        """credentials then config, retried on the firmware's growing, jittered delays."""
        fetch = fetcher(session)
        t0 = time.monotonic()
        for wait in sc.retry_delays(tries, step) + [None]:
            try:
                self.creds, _ = await call(sc.credentials, fetch, self.url, self.mac, self.creds)
                cfg = await call(sc.config, fetch, self.url, self.creds["mqtt_login"], self.creds["mqtt_passwd"])
                break
            except (sc.SensocampusError, OSError, asyncio.TimeoutError) as e:
                self.stats.handshake_errors[type(e).__name__] += 1
                if wait is None:
                    raise
                await asyncio.sleep(wait)
        self.base = cfg.base_topic
        names = [m["module"] for m in cfg.modules if m["module"] in DRIFT] or ["temperature"]
        self.modules = [Module(n, self.mac, cfg.module(n)) for n in names]
        self.handshake_s = time.monotonic() - t0
        self.stats.handshakes.append(self.handshake_s)

    # -- readings -------------------------------------------------------------------
    def _make(self, t):
        m = self.modules[self.seq % len(self.modules)]
        text = payload.reading(m.name, drift(m.name, t, self.phase), m.unit_id, SUB_IDS.get(m.name),
                               self.seq, t)
        self.outbox.append((m.topic(self.base), text))
        self.seq += 1
        self.stats.made += 1

    async def sample(self, stop):
        """A reading every 1/rate s, from the first whole second on, PHASE_SPREAD s of
        its own after it: a payload's timestamp is in whole seconds (the firmware's
        format), so a lag measured from it is at most PHASE_SPREAD too long."""
        period = 1.0 / self.rate
        first = math.floor(time.time()) + 1 + self.phase * PHASE_SPREAD
        await asyncio.sleep(first - time.time())
        nxt = time.monotonic()
        while not stop.is_set() and self.sampling:
            self._make(time.time())
            self._wake.set()
            nxt += period
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))

    async def send(self, stop, host, port):
        """The MQTT session: connect, a `starting` status, then the outbox oldest first."""
        delay = 1.0
        first = True
        while not stop.is_set():
            self.state = "connecting"
            try:
                async with aiomqtt.Client(host, port, username=self.creds["mqtt_login"],
                                          password=self.creds["mqtt_passwd"],
                                          identifier=self.creds["mqtt_login"], keepalive=60, timeout=10) as c:
                    self.stats.connected += 1
                    self.state = "connected"
                    try:
                        delay = 1.0
                        status = payload.status("device", 1800, [], payload.format_time(time.gmtime()),
                                                ids.mac_wire(self.mac), status="starting" if first else "running",
                                                modules=[m.name for m in self.modules], board="light")
                        first = False
                        await c.publish(self.base + "/device", status, qos=1)
                        while not stop.is_set():
                            if not self.outbox:
                                self._wake.clear()
                                await _either(self._wake.wait(), stop.wait())
                                continue
                            topic, text = self.outbox[0]
                            await c.publish(topic, text, qos=1, timeout=10)
                            self.outbox.popleft()  # acknowledged: gone from the outbox
                            self.stats.acked += 1
                    finally:
                        self.stats.connected -= 1
            except aiomqtt.MqttError as e:
                self.state = "retrying after %s" % e
                if stop.is_set():
                    break
                self.stats.reconnects += 1
                await _either(asyncio.sleep(delay * (0.5 + random.random())), stop.wait())
                delay = min(delay * 2, self.reconnect_max)

    async def run(self, session, stop, broker):
        """Boot and live until `stop`; broker: (host, port), or None for the one the
        credentials answer names."""
        self._wake = asyncio.Event()
        await self.handshake(session)
        host = (broker or (None, None))[0] or self.creds.get("mqtt_server") or "127.0.0.1"
        port = (broker or (None, None))[1] or self.creds.get("mqtt_port") or 1883
        await asyncio.gather(self.sample(stop), self.send(stop, host, port))


async def _either(*aws):
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


def session():
    """One connection per request and none kept, as separate boards do, speaking the
    board's own HTTP/1.0 (campus/boardhttp.py)."""
    return boardhttp.Session(HTTP_TIMEOUT)
