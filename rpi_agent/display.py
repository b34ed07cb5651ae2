"""The `display` role: the readings of the rooms it shows (a read-only broker
account: the stub's `display` kind, whose config answer lists its `rooms`),
kept for 24 h in memory and served on a local full-screen page
(static/display.html) updated live over SSE. neocampus-kiosk.service opens
Chromium in kiosk mode on it.

    GET /            the page
    GET /api/state   every sensor: room, module, unitID, subID, value, units,
                     last reading time, period, 24 h of (time, value)
    GET /events      SSE: one `reading` event per reading received

A sensor's period is the median gap between its last readings (the module's
default frequency until there are three); the page marks it "no data since
HH:MM" beyond 3 periods. Bad payloads are counted and dropped.
"""
import asyncio
import collections
import json
import logging
import os
import statistics
import threading
import time

from aiohttp import web

from neocampus import table

log = logging.getLogger("rpi_agent.display")

HISTORY_S = 24 * 3600
MAX_POINTS = 2880      # a reading every 30 s for 24 h
STATIC = os.path.join(os.path.dirname(__file__), "static")


def parse_reading(topic, raw):
    """(room, module, record) of a reading, None for a status, ValueError for junk."""
    parts = topic.split("/") if isinstance(topic, str) else []
    if len(parts) != 3 or parts[2] == "device":
        return None
    if len(raw) > 2048:
        raise ValueError("payload too long")
    doc = json.loads(raw)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    if "value" not in doc:
        return None  # a module status (frequency, sensors, time)
    v = doc["value"]
    if isinstance(v, bool):
        pass
    elif not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
        raise ValueError("value %r is not a number" % (v,))
    unit, sub = doc.get("unitID"), doc.get("subID", "")
    if not isinstance(unit, str) or not unit or len(unit) > 64:
        raise ValueError("bad unitID")
    if not isinstance(sub, (str, int)) or isinstance(sub, bool):
        raise ValueError("bad subID")
    units = doc.get("value_units")
    if units is not None and not isinstance(units, str):
        raise ValueError("bad value_units")
    return parts[0] + "/" + parts[1], parts[2], {
        "unitID": unit[:64], "subID": str(sub)[:32], "value": v, "units": (units or "")[:16],
        "kind": doc.get("type") if isinstance(doc.get("type"), str) else None}


class Sensor:
    def __init__(self, key, room, module, rec):
        self.key, self.room, self.module = key, room, module
        self.unit_id, self.sub_id, self.kind = rec["unitID"], rec["subID"], rec["kind"]
        self.units = rec["units"]
        self.times = collections.deque()
        self.values = collections.deque()

    def add(self, t, rec):
        self.units = rec["units"] or self.units
        self.kind = rec["kind"] or self.kind
        v = rec["value"]
        if self.times and t < self.times[-1]:
            t = self.times[-1]
        self.times.append(t)
        self.values.append(v)
        while self.times and (self.times[0] < t - HISTORY_S or len(self.times) > MAX_POINTS):
            self.times.popleft()
            self.values.popleft()

    def period(self):
        if len(self.times) >= 3:
            ts = list(self.times)[-10:]
            gaps = [b - a for a, b in zip(ts, ts[1:])]
            p = statistics.median(gaps)
            if p > 0:
                return p
        return table.row(self.module)[table.FREQ_DEFAULT]

    def record(self, history=True):
        d = {"key": self.key, "room": self.room, "module": self.module, "unitID": self.unit_id,
             "subID": self.sub_id, "units": self.units, "kind": self.kind, "value": self.values[-1],
             "last": self.times[-1], "period": self.period()}
        if history:
            d["history"] = [[round(t, 1), v] for t, v in zip(self.times, self.values)]
        return d


class DisplayRole:
    def __init__(self, cfg, rooms, title=""):
        self.rooms = list(rooms)
        self.listen = cfg["display"]["listen"]
        self.title = title or cfg["display"]["title"]
        self.sensors = {}
        self.bad = 0
        self.received = 0
        self._lock = threading.Lock()
        self._clients = set()
        self._loop = None
        self._runner = None
        self.port = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="display-http", daemon=True)

    # -- the agent's side --------------------------------------------------------
    def topics(self):
        return [room + "/+" for room in self.rooms]

    def feed(self, topic, raw, now=None):
        """A message from the broker (paho's thread)."""
        try:
            got = parse_reading(topic, raw)
        except (ValueError, UnicodeDecodeError, TypeError) as e:
            self.bad += 1
            log.debug("display: %s dropped: %s", topic, e)
            return False
        if got is None:
            return False
        room, module, rec = got
        if room not in self.rooms:
            return False
        key = "%s/%s/%s/%s" % (room, module, rec["unitID"], rec["subID"])
        with self._lock:
            s = self.sensors.get(key)
            if s is None:
                s = self.sensors[key] = Sensor(key, room, module, rec)
            s.add(time.time() if now is None else now, rec)
            event = s.record(history=False)
            self.received += 1
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._broadcast, event)
        return True

    def state(self):
        with self._lock:
            sensors = [s.record() for s in sorted(self.sensors.values(), key=lambda s: s.key)]
        return {"title": self.title, "rooms": self.rooms, "now": time.time(), "sensors": sensors}

    def start(self):
        self._thread.start()
        if not self._ready.wait(10) or self.port is None:
            raise RuntimeError("display.listen: cannot serve the page on %s:%d" % self.listen)
        log.info("display: page on http://%s:%d/ for %s", self.listen[0], self.port, ", ".join(self.rooms))

    def on_connect(self, now):
        pass

    def poll(self, now, seq, stamp, force=None):
        return []

    def status_fields(self, m):
        if m.name != "device":
            return ()
        return ("display", {"rooms": self.rooms, "sensors": len(self.sensors), "received": self.received,
                            "bad_payloads": self.bad, "viewers": len(self._clients)})

    def close(self):
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
            self._thread.join(5)

    # -- the page's side (its own event loop) ---------------------------------------
    def _broadcast(self, event):
        for q in list(self._clients):
            if q.qsize() < 1000:
                q.put_nowait(event)

    async def _index(self, request):
        return web.FileResponse(os.path.join(STATIC, "display.html"),
                                headers={"Cache-Control": "no-store"})

    async def _state(self, request):
        return web.json_response(self.state())

    async def _events(self, request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await resp.prepare(request)
        q = asyncio.Queue()
        self._clients.add(q)
        try:
            await resp.write(b"event: hello\ndata: {}\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(q.get(), 15)
                    if event is None:  # the agent stops
                        break
                    await resp.write(b"event: reading\ndata: " + json.dumps(event).encode() + b"\n\n")
                except asyncio.TimeoutError:
                    await resp.write(b": keepalive\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(q)
        return resp

    def _serve(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/events", self._events)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)

        async def up():
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.listen[0], self.listen[1])
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]

        try:
            self._loop.run_until_complete(up())
        except OSError as e:
            log.error("display: cannot listen on %s:%d: %s", self.listen[0], self.listen[1], e)
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        # Whatever is left (a viewer's request mid-way) ends here, not in the GC.
        left = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
        for t in left:
            t.cancel()
        if left:
            self._loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        self._loop.close()

    async def _stop(self):
        for q in list(self._clients):
            q.put_nowait(None)
        await self._runner.cleanup()
        self._loop.stop()
