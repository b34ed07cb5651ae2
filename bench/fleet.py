"""The campus in numbers: what stub + Mosquitto + collector hold on this
machine, each figure beside a baseline run in the same invocation.

1. Handshake storm: N light devices (campus/light.py: the firmware's
   neocampus.sensocampus over the board's own HTTP/1.0 exchange, one
   connection per request, campus/boardhttp.py) power on at the same instant
   and do credentials + config against a stub; beside it, the same client
   against a bare aiohttp server answering the same two requests with canned
   JSON on the same event loop kind (the HTTP floor of this machine and this
   client). Printed: handshakes/s, p50/p99, the CPU each side spent per
   handshake (client and server share the cores: both count; on a shared
   machine it moves less than the rate), the ratio to the floor, and the goal (>= 1,000/s for 2,000 devices with p99 < 1 s;
   543/s and p99 3.35 s measured with bench/registry.py on 2026-12-01).
   All N at the same instant is a queue: its p99 is the time the last one
   waited. A power cut's boards come up over a second or two (boot, Wi-Fi
   association): the same storm is also run with power-on times spread over
   --spread seconds, where p99 is what one device waits. Both run against a
   stub of one process and one of --http-processes (default: the cores;
   provisioning/http_worker.py), on which the goal is judged.
2. Collector ingest: bench/registry.py's flood at QoS 0 and QoS 1 through
   Mosquitto, the collector beside a bare paho subscriber in its own process
   (goal: collector/bare >= 0.9; 0.80 and 0.84 on 2026-12-01).
3. The largest fleet: light devices (one reading per device per 60 s
   compressed to 1 s) on a fresh stub and Mosquitto, in steps of growing
   size, each held --step-seconds; a step holds when nothing is lost and the
   collector's lag p99 is under 2 s. Beside the collector, in the same run
   and on the same broker, a bare paho subscriber in its own process
   receives the same messages: its count and its lag are the broker's own.

    .venv/bin/python bench/fleet.py              # ~3 min
    .venv/bin/python bench/fleet.py --quick      # seconds: small sizes

Exits 1 when a figure could not be measured, with its reason.
"""
import argparse
import asyncio
import collections
import multiprocessing
import os
import pathlib
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from registry import Unmeasured, cpu_seconds, percentile, run_ingest, why  # noqa: E402

from campus import light  # noqa: E402
from campus.fleet import Simulation, mac_of  # noqa: E402
from provisioning.mosquitto import free_port  # noqa: E402
from provisioning.eventloop import run as run_loop  # noqa: E402  (uvloop where installed)
from provisioning.stub_process import StubServer  # noqa: E402

GOAL_RATE, GOAL_P99 = 1000.0, 1.0
BASE_RATE, BASE_P99 = 543.0, 3.35          # bench/registry.py, 2026-12-01
GOAL_INGEST = 0.9
BASE_INGEST = {0: 0.80, 1: 0.84}           # bench/registry.py, 2026-12-01
LAG_LIMIT = 2.0


# -- 1. handshake storm ----------------------------------------------------------------
def floor_server(port, ready):
    """The same two answers with no registry, no hashing, no broker."""
    from aiohttp import web

    from provisioning.eventloop import run
    cred = {"login": "senso_x", "password": "p", "server": "127.0.0.1", "port": 1883}
    cfg = {"topics": ["b/r"], "zones": [{"topic": "b/r", "modules": [{"module": "temperature", "frequency": 60}]}]}

    async def main():
        app = web.Application()
        app.add_routes([web.get("/device/credentials", lambda r: web.json_response(cred)),
                        web.get("/device/config", lambda r: web.json_response(cfg))])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=4096).start()
        ready.set()
        await asyncio.Event().wait()
    run(main())


async def storm(url, n, prefix, spread=0.0):
    """Handshakes of n light devices powered together (or over `spread` s): (wall s, [latency s], errors)."""
    stats = light.Stats()
    devices = [light.LightDevice(mac_of(i, prefix), url, stats) for i in range(n)]
    go = asyncio.Event()

    async def one(d):
        await go.wait()
        if spread:
            await asyncio.sleep(d.phase * spread)  # its own power-on moment
        try:
            await d.handshake(session, tries=1)
        except Exception as e:
            d.error = "%s: %s" % (type(e).__name__, e)
    async with light.session() as session:
        tasks = [asyncio.create_task(one(d)) for d in devices]
        await asyncio.sleep(0.2)
        t0 = time.perf_counter()
        go.set()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
    errors = sum(1 for d in devices if d.error)
    if errors:
        kinds = collections.Counter(d.error for d in devices if d.error).most_common(3)
        print("  errors: %s (failed tries: %s)" % ("; ".join("%d x %s" % (k, e) for e, k in kinds),
                                                 dict(stats.handshake_errors)), flush=True)
    return wall, [d.handshake_s for d in devices if d.handshake_s is not None], errors


def measured_storm(server_pids, *args):
    """storm(*args) on uvloop where installed, with the CPU both sides spent:
    -> (wall, latencies, errors, devices' CPU s, server's CPU s, all its processes). On a
    shared machine the CPU per handshake moves less than the rate does."""
    server0, client0 = sum(map(cpu_seconds, server_pids)), time.process_time()
    wall, lat, errors = run_loop(storm(*args))
    return wall, lat, errors, time.process_time() - client0, sum(map(cpu_seconds, server_pids)) - server0


def show_storm(label, n, wall, lat, errors, client_cpu, server_cpu):
    rate = len(lat) / wall if wall else 0.0
    print("  %-44s %4d/%d in %5.2f s = %6.0f handshakes/s; p50 %5.0f ms, p99 %5.0f ms; errors %d; "
          "CPU per handshake: devices %.2f ms, server %.2f ms"
          % (label, len(lat), n, wall, rate, 1000 * percentile(lat, 50), 1000 * percentile(lat, 99), errors,
             1000 * client_cpu / n, 1000 * server_cpu / n), flush=True)
    if not lat:
        raise Unmeasured("%s: no handshake succeeded" % label)
    return rate, percentile(lat, 99)


def run_storm(n, spread, broker, processes):
    print("1. handshake storm, %d light devices (%s broker)" % (n, broker), flush=True)
    ctx = multiprocessing.get_context("fork")
    port, ready = free_port(), ctx.Event()
    floor = ctx.Process(target=floor_server, args=(port, ready), daemon=True)
    floor.start()
    try:
        if not ready.wait(20):
            raise Unmeasured("the bare HTTP server did not start")
        # A small storm first, not counted: the first one pays this process's warm-up
        # (imports, the loop's first connections), which would be charged to the floor.
        run_loop(storm("http://127.0.0.1:%d" % port, min(n, 100), 0x0e))
        f_rate, _ = show_storm("bare aiohttp, canned answers (the floor):", n,
                               *measured_storm([floor.pid], "http://127.0.0.1:%d" % port, n, 0x0c))
    finally:
        floor.terminate()
        floor.join(5)
    results = {}
    for procs in sorted({1, processes}):
        with StubServer(broker=broker, timeout=60, extra_args=["--http-processes", str(procs)]) as stub:
            register(stub, 2 * n)
            pids = [stub.proc.pid] + worker_pids(stub.proc.pid)
            name = "1 process" if procs == 1 else "%d processes" % procs
            results[procs] = (
                show_storm("stub (%s), all at the same instant:" % name, n,
                           *measured_storm(pids, stub.url, n, 0x0a)),
                show_storm("stub (%s), power-on over %.1f s:" % (name, spread), n,
                           *measured_storm(pids, stub.url, n, 0x0d, spread)))
    for procs, ((rate, p99), (s_rate, s_p99)) in sorted(results.items()):
        print("  %s: stub/floor = %.2f; against 2026-12-01 (%.0f/s, p99 %.2f s): %.2fx the rate"
              % ("--http-processes %d" % procs, rate / f_rate, BASE_RATE, BASE_P99, rate / BASE_RATE), flush=True)
    (rate, p99), (s_rate, s_p99) = results[processes]
    print("  goal, with --http-processes %d: >= %.0f handshakes/s: %s (%.0f/s); p99 < %.0f s: all at once %s "
          "(%.2f s), spread %s (%.2f s)"
          % (processes, GOAL_RATE, "met" if rate >= GOAL_RATE else "NOT met", rate, GOAL_P99,
             "met" if p99 < GOAL_P99 else "NOT met", p99, "met" if s_p99 < GOAL_P99 else "NOT met", s_p99),
          flush=True)


def worker_pids(pid):
    """The stub's HTTP workers: its children running provisioning.http_worker."""
    out = []
    for child in pathlib.Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split():
        try:
            if b"provisioning.http_worker" in pathlib.Path("/proc/%s/cmdline" % child).read_bytes():
                out.append(int(child))
        except OSError:
            pass
    return out


def register(stub, n):
    import aiohttp

    async def go():
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer " + stub.token}) as s:
            sem = asyncio.Semaphore(16)

            async def one(mac, i):
                async with sem:
                    async with s.post(stub.url + "/api/devices", json={
                            "mac": mac, "location": "bench/r%d" % (i % 50), "modules": ["temperature"]}) as r:
                        if r.status != 201:
                            raise Unmeasured("register %s: %d" % (mac, r.status))
            await asyncio.gather(*(one(mac_of(i, p), i) for p in (0x0a, 0x0d) for i in range(n // 2)))
    asyncio.run(go())


# -- 3. largest fleet ------------------------------------------------------------------------
def bare_counter(host, port, user, password, out, stop):
    """Own process: counts and times what Mosquitto delivers on +/+/+ (QoS 1, as the collector)."""
    import json

    import paho.mqtt.client as mqtt
    lags, count = [], [0]

    def on_message(client, userdata, msg):
        try:
            d = json.loads(msg.payload)
        except ValueError:
            return
        if isinstance(d, dict) and "seq" in d:  # readings, as the collector counts them (not statuses)
            count[0] += 1
            lags.append(time.time() - d["timestamp"])
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user)
    c.username_pw_set(user, password)
    c.on_connect = lambda cl, ud, fl, rc, pr: cl.subscribe("+/+/+", 1)
    c.on_message = on_message
    c.connect(host, port)
    c.loop_start()
    stop.wait()
    c.disconnect()
    c.loop_stop()
    out.put((count[0], percentile(lags, 50), percentile(lags, 99)))


def fleet_step(n, seconds):
    """One size: -> (held, line)."""
    sim = Simulation(light_devices=n, rate=1.0, duration=seconds, boot_spread=5.0, say=lambda s: None)
    ctx = multiprocessing.get_context("fork")
    out, stop = ctx.Queue(), ctx.Event()
    try:
        sim.start()
        user, password = sim.stub.observer_credentials()
        bare = ctx.Process(target=bare_counter, args=(sim.stub.mqtt_host, sim.topology.collector_port, user,
                                                      password, out, stop), daemon=True)
        bare.start()
        time.sleep(1.0)
        r = sim.run()
        stop.set()
        bare_n, bare_p50, bare_p99 = out.get(timeout=30)
        bare.join(5)
    finally:
        sim.stop()
    lag99 = r["collector_lag_p99_s"] or float("inf")
    held = r["lost"] == 0 and r["handshakes"] == n and lag99 < LAG_LIMIT
    line = ("  %5d devices (%5.0f readings/s): %s; handshakes %d/%d; expected %d, stored %d, lost %d, dup %d; "
            "collector lag p50 %.0f ms p99 %.0f ms; bare subscriber %d received (%.2fx), lag p50 %.0f ms p99 %.0f ms"
            % (n, n * 1.0, "HELD" if held else "not held", r["handshakes"], n, r["readings_expected"],
               r["readings_stored"], r["lost"], r["duplicates"], 1000 * (r["collector_lag_p50_s"] or 0),
               1000 * lag99, bare_n, r["readings_stored"] / bare_n if bare_n else 0, 1000 * bare_p50,
               1000 * bare_p99))
    return held, line


def run_fleet(sizes, seconds):
    print("3. largest fleet: light devices at one reading per device per second, each size held %.0f s "
          "(flat Mosquitto); held = nothing lost and collector lag p99 < %.0f s" % (seconds, LAG_LIMIT), flush=True)
    largest = None
    for n in sizes:
        held, line = fleet_step(n, seconds)
        print(line, flush=True)
        if not held:
            break
        largest = n
    print("  largest fleet held: %s" % ("%d devices (%d readings/s)" % (largest, largest) if largest
                                       else "none of the sizes tried"), flush=True)
    if largest is None:
        raise Unmeasured("no fleet size held")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=None, help="handshake storm size (default 2000; 200 --quick)")
    ap.add_argument("--spread", type=float, default=2.0, help="power-on spread of the second storm (s)")
    ap.add_argument("--http-processes", type=int, default=os.cpu_count() or 1,
                    help="neoc server --http-processes of the storm the goal is judged on, run beside one "
                         "process (default: the cores)")
    ap.add_argument("--messages", type=int, default=None, help="ingest flood per QoS (default 20000; 2000 --quick)")
    ap.add_argument("--repeat", type=int, default=None, help="ingest floods per QoS, median (default 3; 1 --quick)")
    ap.add_argument("--sizes", default=None, help="fleet sizes, comma-separated (default 500,1000,2000,3000)")
    ap.add_argument("--step-seconds", type=float, default=None, help="each fleet size held (default 20; 8 --quick)")
    ap.add_argument("--skip", action="append", default=[], choices=["storm", "ingest", "fleet"])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    n = args.devices or (200 if args.quick else 2000)
    messages = args.messages or (2000 if args.quick else 20000)
    sizes = [int(x) for x in (args.sizes or ("100" if args.quick else "500,1000,2000,3000")).split(",")]
    seconds = args.step_seconds or (8.0 if args.quick else 20.0)
    print("machine: %d cores; %s" % (os.cpu_count(), time.strftime("%Y-%m-%d %H:%M:%S %Z")), flush=True)
    t0 = time.monotonic()
    missing = []
    if "storm" not in args.skip:
        try:
            run_storm(n, args.spread, "embedded", args.http_processes)
        except Exception as e:
            print("  storm: not measured: %s" % why(e), flush=True)
            missing.append(("storm", why(e)))
    if "ingest" not in args.skip:
        print("2. collector ingest through Mosquitto (bench/registry.py's flood), beside a bare paho subscriber",
              flush=True)
        try:
            ratios = run_ingest(messages, "mosquitto", missing, args.repeat or (1 if args.quick else 3))
            for qos, ratio in sorted(ratios.items()):
                print("  QoS %d: collector/bare %.2f, median of the floods (2026-12-01: %.2f); goal >= %.1f: %s"
                      % (qos, ratio, BASE_INGEST[qos], GOAL_INGEST, "met" if ratio >= GOAL_INGEST else "NOT met"),
                      flush=True)
        except Exception as e:
            print("  ingest: not measured: %s" % why(e), flush=True)
            missing.append(("ingest", why(e)))
    if "fleet" not in args.skip:
        try:
            run_fleet(sizes, seconds)
        except Exception as e:
            print("  fleet: not measured: %s" % why(e), flush=True)
            missing.append(("fleet", why(e)))
    print("run time %.0f s" % (time.monotonic() - t0))
    if missing:
        print("NOT MEASURED (%d figures):" % len(missing))
        for what, reason in missing:
            print("  %s: %s" % (what, reason))
        return 1
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
