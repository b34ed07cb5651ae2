"""`neoc fleet simulate`: hundreds of devices against a stub and real Mosquittos.

A stub on a fresh data dir (`--broker external`: the brokers are ours to
stop, campus/brokers.py), its devices registered in buildings and rooms,
then light devices (campus/light.py, one asyncio process) and a few
real-firmware virtual boards. Optional faults: a boot storm (every device
powered at the same instant, as after a power cut) and a broker outage (the
broker the collector reads stopped for SECONDS at a chosen moment). At the
end every device's outbox is drained and the collector given time to store;
the report compares what each device numbered (its `seq`) with what the
registry holds for it (seqcount.py's counts through /api/devices).
"""
import asyncio
import json
import math
import pathlib
import random
import tempfile
import threading
import time

from campus import light
from campus.brokers import Topology
from provisioning.eventloop import run as run_loop
from provisioning.stub_process import StubServer

DRAIN_TIMEOUT = 60.0  # s for outboxes and the collector to catch up after the run
REGISTER_AT_ONCE = 200  # admin calls in flight while the fleet is registered


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]


def mac_of(i, prefix=0x0a):
    h = "%02x%010x" % (prefix, i)
    return ":".join(h[k:k + 2] for k in range(0, 12, 2))


def layout(n, buildings, rooms):
    """(building, room) of device i: buildings and rooms filled in turn."""
    return [("b%d" % (i % buildings + 1), "r%02d" % (i // buildings % rooms + 1)) for i in range(n)]


class Simulation:
    def __init__(self, light_devices=300, virtual_boards=0, boot_storm=False, outage=0.0, outage_at=None,
                 rate=1.0, duration=30.0, topology="flat", buildings=3, rooms=10, say=print, data_dir=None,
                 boot_spread=5.0, http_processes=1):
        self.n = light_devices
        self.k = virtual_boards
        self.boot_storm = boot_storm
        self.outage = outage
        self.outage_at = outage_at if outage_at is not None else duration / 3.0
        self.rate = rate
        self.duration = duration
        self.topology_kind = topology
        self.buildings = buildings
        self.rooms = rooms
        self.say = say
        self.boot_spread = boot_spread
        self.http_processes = http_processes
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="neoc-fleet-")
            data_dir = self._tmp.name
        self.dir = pathlib.Path(data_dir)
        self.stub = None
        self.topology = None
        self.boards = []
        self.stats = light.Stats()
        self.devices = []
        self.events = []

    # -- set-up ----------------------------------------------------------------------
    def start(self):
        names = ["b%d" % (i + 1) for i in range(self.buildings)]
        self.topology = Topology(self.topology_kind, self.dir / "brokers", self.dir / "stub", names)
        self.stub = StubServer(data_dir=self.dir / "stub", broker="external", mqtt_port=self.topology.collector_port,
                               timeout=60, extra_args=["--http-processes", str(self.http_processes)])
        self.stub.start()
        self.topology.start()
        self.say("stub %s; brokers: %s" % (self.stub.url, self.topology.describe()))
        places = layout(self.n + self.k, self.buildings, self.rooms)
        self._register(places)
        self.devices = [light.LightDevice(mac_of(i), self.stub.url, self.stats, self.rate)
                        for i in range(self.n)]
        deadline = time.monotonic() + 30
        while not self.stub.admin.collector()["connected"]:
            if time.monotonic() > deadline:
                raise RuntimeError("the collector did not connect to %s" % self.topology.describe())
            time.sleep(0.1)
        if self.k:
            self._boards(places[self.n:])

    def _register(self, places):
        t0 = time.monotonic()
        mods = [{"module": m} for m in ("temperature", "humidity", "luminosity")]

        async def register():
            headers = {"Authorization": "Bearer " + self.stub.token}
            import aiohttp
            async with aiohttp.ClientSession(headers=headers) as s:
                # Each call waits until the broker has the account (0.25 s with an external
                # one): many at once share that wait.
                sem = asyncio.Semaphore(REGISTER_AT_ONCE)

                async def one(i, place):
                    body = {"mac": mac_of(i) if i < self.n else mac_of(i - self.n, 0x0b),
                            "location": "%s/%s" % place, "modules": mods}
                    if self.topology_kind == "bridged":
                        body.update(server="127.0.0.1", port=self.topology.port_of(place[0]))
                    async with sem:
                        async with s.post(self.stub.url + "/api/devices", json=body) as r:
                            if r.status != 201:
                                raise RuntimeError("registering %s failed: %d %s" % (body["mac"], r.status,
                                                                                     await r.text()))
                await asyncio.gather(*(one(i, p) for i, p in enumerate(places)))
        asyncio.run(register())
        self.say("%d devices registered in %d buildings, %d rooms each (%.1f s)"
                 % (len(places), self.buildings, self.rooms, time.monotonic() - t0))

    def _boards(self, places):
        from virtual_board import VirtualBoard
        chips = ["mcp9808@0x18:temperature=19..24/600s", "sht3x@0x44:temperature=19.5..23.5/600s,humidity=40..55/900s"]
        for i, place in enumerate(places):
            b = VirtualBoard(mac_of(i, 0x0b), server=self.stub.url, wifi=("campus", "campus"), chips=chips,
                             echo=False)
            self.boards.append(b)
            b.start()
        self.say("%d virtual boards booting (real firmware)" % len(self.boards))

    # -- run -----------------------------------------------------------------------------
    def run(self):
        """Everything between set-up and report: -> the report dict."""
        outage = None
        if self.outage:
            outage = threading.Timer(self.outage_at, self.topology.outage, (self.outage, self._broker_event))
            outage.daemon = True
        t0 = time.monotonic()
        if outage:
            outage.start()
        try:
            # uvloop where installed, as the stub: the devices' own CPU (half of a boot storm's
            # on asyncio's loop) shares the cores with what they measure.
            run_loop(self._run_devices(t0))
        finally:
            if outage:
                outage.cancel()
                outage.join()
        return self.report()

    def _broker_event(self, what):
        self.events.append((time.monotonic(), what))
        self.say("broker the collector reads is %s (%s)" % (what, "outage of %.0f s" % self.outage
                                                             if what == "down" else "back"))

    async def _run_devices(self, t0):
        stop = asyncio.Event()
        async with light.session() as session:
            async def one(d):
                if not self.boot_storm:
                    await asyncio.sleep(random.random() * self.boot_spread)
                try:
                    await d.run(session, stop, None)
                except Exception as e:  # reported: a device that never finished its handshake
                    d.error = "%s: %s" % (type(e).__name__, e)
            if self.boot_storm:
                self.say("boot storm: %d devices powered at the same instant" % self.n)
            tasks = [asyncio.create_task(one(d)) for d in self.devices]
            progress = asyncio.create_task(self._progress(t0, stop))
            await asyncio.sleep(max(0.0, self.duration - (time.monotonic() - t0)))
            # Sampling stops; what is queued still goes out (outboxes drained).
            stop_sampling = time.monotonic()
            self.say("run over (%.0f s): draining the outboxes" % self.duration)
            await self._drained(stop_sampling)
            stop.set()
            progress.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _drained(self, since):
        # Devices stop sampling, then send what is left.
        for d in self.devices:
            d.sampling = False
        while time.monotonic() - since < DRAIN_TIMEOUT:
            if all(not d.outbox for d in self.devices):
                break
            await asyncio.sleep(0.2)

    async def _progress(self, t0, stop):
        while not stop.is_set():
            await asyncio.sleep(5)
            s = self.stats
            self.say("t=%3.0f s: handshakes %d/%d, connected %d, readings made %d, acknowledged %d, queued %d"
                     % (time.monotonic() - t0, len(s.handshakes), self.n, s.connected, s.made, s.acked,
                        s.made - s.acked))

    # -- report ---------------------------------------------------------------------------
    def report(self):
        made = {d.mac.upper(): d.seq for d in self.devices}
        admin = self.stub.admin
        # The collector stores what it was handed within a moment; wait for the counts to settle.
        deadline = time.monotonic() + DRAIN_TIMEOUT
        rows = {}
        while time.monotonic() < deadline:
            rows = {d["mac"]: d["readings"] for d in admin.devices()}
            if all(rows.get(m, {}).get("received", 0) >= n for m, n in made.items()):
                break
            time.sleep(0.5)
        col = admin.collector()
        lost = sum(max(0, n - rows.get(m, {}).get("received", 0)) for m, n in made.items())
        boards = [rows.get(b.mac.upper(), {}) for b in self.boards]
        hs = self.stats.handshakes
        out = {
            "light_devices": self.n, "virtual_boards": self.k, "topology": self.topology_kind,
            "boot_storm": self.boot_storm, "broker_outage_s": self.outage, "rate_per_device": self.rate,
            "handshakes": len(hs), "handshake_p50_s": percentile(hs, 50), "handshake_p99_s": percentile(hs, 99),
            "handshake_errors": dict(self.stats.handshake_errors),
            "readings_expected": sum(made.values()),
            "readings_stored": sum(rows.get(m, {}).get("received", 0) for m in made),
            "lost": lost,
            "missing_from_seq": sum(r.get("missing", 0) for r in rows.values()),
            "duplicates": sum(r.get("duplicates", 0) for r in rows.values()),
            "reconnects": self.stats.reconnects,
            "collector_lag_p50_s": (col.get("lag") or {}).get("p50"),
            "collector_lag_p99_s": (col.get("lag") or {}).get("p99"),
            "boards_connected": sum(1 for b in self.boards if any(line.startswith("mqtt: connected")
                                                                  for line in list(b.lines))),
            "boards_stored": [b.get("received", 0) for b in boards],
            "boards_missing": [b.get("missing", 0) for b in boards],
            "device_errors": sorted({d.error for d in self.devices} - {None})[:5],
        }
        return out

    def stop(self):
        for b in self.boards:
            b.stop()
        if self.stub is not None:
            self.stub.stop()
        if self.topology is not None:
            self.topology.stop()
        if self._tmp is not None:
            self._tmp.cleanup()


def summary(r):
    """The report as lines for a person."""
    def ms(v):
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else "%.0f ms" % (1000 * v)
    lines = [
        "devices that finished the handshake: %d/%d%s" % (r["handshakes"], r["light_devices"],
                                                          "" if not r["handshake_errors"] else
                                                          " (retried: %s)" % json.dumps(r["handshake_errors"])),
        "handshake p50 %s, p99 %s" % (ms(r["handshake_p50_s"]), ms(r["handshake_p99_s"])),
        "readings expected (from each device's seq) %d, stored %d, lost %d, duplicated %d, missing from seq %d"
        % (r["readings_expected"], r["readings_stored"], r["lost"], r["duplicates"], r["missing_from_seq"]),
        "collector lag p50 %s, p99 %s" % (ms(r["collector_lag_p50_s"]), ms(r["collector_lag_p99_s"])),
    ]
    if r["virtual_boards"]:
        lines.append("virtual boards: %d/%d finished the handshake and connected; stored %s, missing %s"
                     % (r["boards_connected"], r["virtual_boards"], r["boards_stored"], r["boards_missing"]))
    if r["device_errors"]:
        lines.append("device errors: %s" % "; ".join(r["device_errors"]))
    return lines
