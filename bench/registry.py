"""Benchmarks of the sensOCampus stub, each figure printed beside its baseline.

1. Boot storm: N simulated devices (asyncio) all do credentials + config at
   the same moment against a `neoc server` child process: handshakes/s,
   p50/p99 latency, errors.
2. Collector ingest through Mosquitto: a paho publisher floods one room at
   QoS 0 and QoS 1; in the same run a bare paho subscriber in its own process
   (the collector's account, same QoS 1 subscription) counts what Mosquitto
   delivers. The collector's stored
   rate over Mosquitto's delivery rate is the figure that matters. Each flood
   runs --repeat times (3): the median and the spread are printed.

    .venv/bin/python bench/registry.py --devices 500 --devices 2000 --messages 20000
    .venv/bin/python bench/registry.py --quick      # 50 devices, 500 messages: seconds

Client and server share this machine's cores, so the client's own cost is
inside every figure. Exits 1 when a figure could not be measured (a stub that
does not start, no handshake that succeeds, nothing delivered or stored), each
with its reason (the traceback's last line), so that a change that breaks the
bench fails tests/test_bench_quick.py instead of printing zeros.
"""
import argparse
import asyncio
import json
import multiprocessing
import os
import pathlib
import sys
import tempfile
import threading
import time
import traceback

import aiohttp
import paho.mqtt.client as mqtt

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from provisioning.stub_process import StubServer  # noqa: E402


class Unmeasured(Exception):
    """A figure came out empty (nothing succeeded, nothing arrived)."""


def why(e):
    """The last line of e's traceback (an Unmeasured says it plainly)."""
    if isinstance(e, Unmeasured):
        return str(e)
    return traceback.format_exception_only(type(e), e)[-1].strip()


def mac_of(i, prefix=0x02):
    h = "%02x%010x" % (prefix, i)
    return ":".join(h[k:k + 2] for k in range(0, 12, 2))


def basic_auth(login, password):
    if hasattr(aiohttp, "encode_basic_auth"):  # aiohttp >= 3.14
        return aiohttp.encode_basic_auth(login, password)
    return aiohttp.BasicAuth(login, password).encode()


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


# -- boot storm -----------------------------------------------------------------
async def register(stub, n, prefix):
    headers = {"Authorization": "Bearer " + stub.token}
    async with aiohttp.ClientSession(headers=headers) as s:
        sem = asyncio.Semaphore(32)

        async def one(i):
            async with sem:
                async with s.post(stub.url + "/api/devices", json={
                        "mac": mac_of(i, prefix), "location": "bench/r%d" % (i % 50),
                        "modules": [{"module": "temperature", "frequency": 60}]}) as r:
                    if r.status != 201:
                        raise RuntimeError("register failed: %d %s" % (r.status, await r.text()))
        await asyncio.gather(*(one(i) for i in range(n)))


async def device_boot(session, url, mac, start):
    await start.wait()
    t0 = time.perf_counter()
    async with session.get(url + "/device/credentials", params={"mac": mac}) as r:
        if r.status != 200:
            return None, "credentials %d" % r.status
        cred = await r.json()
    auth = {"Authorization": basic_auth(cred["login"], cred["password"])}
    async with session.get(url + "/device/config", headers=auth) as r:
        if r.status != 200:
            return None, "config %d" % r.status
        cfg = await r.json()
        if not cfg.get("topics"):
            return None, "config without topics"
    return time.perf_counter() - t0, None


async def storm(stub, n, prefix):
    start = asyncio.Event()
    # One connection per device and no reuse, as separate boards would do.
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as s:
        tasks = [asyncio.create_task(device_boot(s, stub.url, mac_of(i, prefix), start)) for i in range(n)]
        await asyncio.sleep(0.2)
        t0 = time.perf_counter()
        start.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        wall = time.perf_counter() - t0
    lat = [r[0] for r in results if isinstance(r, tuple) and r[0] is not None]
    errors = {}
    for r in results:
        reason = repr(r) if isinstance(r, BaseException) else r[1]
        if reason:
            errors[reason] = errors.get(reason, 0) + 1
    return wall, lat, errors


def cpu_seconds(pid):
    """utime + stime of a process, from /proc (Linux)."""
    try:
        fields = pathlib.Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_storm(n, broker, prefix):
    with StubServer(broker=broker, timeout=60) as stub:
        cpu = [None]

        async def measured():
            await register(stub, n, prefix)
            cpu[0] = cpu_seconds(stub.proc.pid)
            cpu.append(time.process_time())
            result = await storm(stub, n, prefix)
            cpu.append(time.process_time())
            return result
        wall, lat, errors = asyncio.run(measured())
        server_cpu = cpu_seconds(stub.proc.pid) - cpu[0]
    ok = len(lat)
    print("boot storm N=%d (%s broker): %d/%d handshakes in %.2f s = %.0f handshakes/s; "
          "latency p50 %.0f ms, p99 %.0f ms, max %.0f ms; errors %d%s"
          % (n, broker, ok, n, wall, ok / wall if wall else 0, 1000 * percentile(lat, 50),
             1000 * percentile(lat, 99), 1000 * (max(lat) if lat else 0), n - ok,
             (" " + json.dumps(errors)) if errors else ""), flush=True)
    print("  CPU during the storm: server %.2f s (%.2f ms per handshake), simulated devices %.2f s, on %d cores"
          % (server_cpu, 1000 * server_cpu / n, cpu[2] - cpu[1], os.cpu_count()), flush=True)
    if not ok:
        raise Unmeasured("no handshake succeeded: %s" % json.dumps(errors))


# -- collector ingest -------------------------------------------------------------
def bare_subscriber(host, port, user, password, topic, qos, expected, ready, out):
    """Runs in its own process (own GIL): counts deliveries, nothing else."""
    state = {"n": 0, "last": None}
    done = threading.Event()

    def on_message(client, userdata, msg):
        state["n"] += 1
        state["last"] = time.time()
        if state["n"] >= expected:
            done.set()

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bare-%d" % os.getpid())
    c.username_pw_set(user, password)
    c.on_connect = lambda cl, ud, fl, rc, pr: cl.subscribe(topic, qos)
    c.on_subscribe = lambda *a: ready.set()
    c.on_message = on_message
    c.connect(host, port)
    c.loop_start()
    # Stop when everything arrived or nothing arrived for 3 s.
    seen = -1
    while not done.wait(3):
        if state["n"] == seen:
            break
        seen = state["n"]
    c.disconnect()
    c.loop_stop()
    out.put((state["n"], state["last"]))


def ingest(stub, qos, messages, login, password, base, broker="mosquitto", first_seq=None):
    user, cpw = stub.collector_credentials()
    ctx = multiprocessing.get_context("fork")
    ready, out = ctx.Event(), ctx.Queue()
    bare = ctx.Process(target=bare_subscriber, args=(stub.mqtt_host, stub.mqtt_port, user, cpw, "+/+/+", 1,
                                                      messages, ready, out))
    bare.start()
    if not ready.wait(10):
        raise RuntimeError("bare subscriber did not subscribe")
    stored0 = stub.admin.collector()["stored"]
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pub-%d" % qos)
    pub.username_pw_set(login, password)
    pub.max_inflight_messages_set(100)
    connected = threading.Event()
    pub.on_connect = lambda *a: connected.set()
    pub.connect(stub.mqtt_host, stub.mqtt_port)
    pub.loop_start()
    if not connected.wait(10):
        raise RuntimeError("publisher not connected")
    topic = base + "/temperature"
    # Wall clock, as the stub's collector reports the time of its last commit.
    t0 = time.time()
    infos = []
    # Each run its own seqs: the collector stores a (unitID, subID, seq) once.
    first_seq = qos * messages if first_seq is None else first_seq
    for seq in range(first_seq, first_seq + messages):
        payload = '{"value": %.3f, "value_units": "celsius", "subID": "24", "unitID": "auto_0001", "seq": %d}' % (
            20 + (seq % 100) / 10.0, seq)
        infos.append(pub.publish(topic, payload, qos=qos))
    for info in infos[-1:]:
        info.wait_for_publish(120)
    t_pub = time.time() - t0
    # The collector: poll its stored count until complete or 3 s without progress; the
    # time is that of its last commit (its own clock reading, as the bare subscriber's).
    stored, stored_at, received_at, last_change = 0, None, None, time.monotonic()
    while True:
        coll = stub.admin.collector()
        now_stored = coll["stored"] - stored0
        now = time.monotonic()
        if now_stored > stored:
            stored, stored_at, last_change = now_stored, coll["last_stored"], now
            received_at = coll.get("last_received")
        if stored >= messages or now - last_change > 3:
            break
        time.sleep(0.05)
    bare_n, bare_last = out.get(timeout=120)
    bare.join(10)
    pub.disconnect()
    pub.loop_stop()
    bare_wall = (bare_last or t0) - t0
    coll_wall = (stored_at or t0) - t0
    bare_rate = bare_n / bare_wall if bare_wall else 0
    coll_rate = stored / coll_wall if coll_wall else 0
    print("ingest QoS %d via %s, %d messages published in %.2f s (%.0f msg/s): "
          "bare subscriber %d received, %.0f msg/s; collector %d stored, %.0f msg/s; "
          "collector/bare = %.2f" % (qos, "Mosquitto" if broker == "mosquitto" else "the embedded amqtt broker", messages, t_pub, messages / t_pub, bare_n, bare_rate, stored, coll_rate,
                                      coll_rate / bare_rate if bare_rate else 0), flush=True)
    # Where the collector's time went: receiving (its receiver process) or storing.
    print("  collector's last message received +%.2f s, stored +%.2f s; bare subscriber's last +%.2f s"
          % ((received_at or t0) - t0, coll_wall, bare_wall), flush=True)
    if not bare_n:
        raise Unmeasured("the bare subscriber received none of the %d messages" % messages)
    if not stored:
        raise Unmeasured("the collector stored none of the %d messages" % messages)
    return coll_rate / bare_rate if bare_rate else 0.0


def run_ingest(messages, broker, missing, repeat=1):
    """Both QoS runs on one stub, each flood `repeat` times (on a shared machine one
    flood's ratio moves by +-0.1); a failed flood is added to `missing` and the next
    one still runs: -> {qos: median collector/bare ratio} of those measured."""
    import requests
    with StubServer(broker=broker, timeout=60) as stub:
        mac = mac_of(1, 0x06)
        stub.admin.add_device(mac, location="bench/ingest", modules=["temperature"])
        cred = requests.get(stub.url + "/device/credentials", params={"mac": mac}, timeout=10).json()
        base = requests.get(stub.url + "/device/config", auth=(cred["login"], cred["password"]),
                            timeout=10).json()["topics"][0]
        time.sleep(0.5)  # the broker's files are reloaded ~0.1 s after the credentials call
        ratios, first_seq = {}, 0
        for qos in (0, 1):
            got = []
            for _ in range(repeat):
                try:
                    got.append(ingest(stub, qos, messages, cred["login"], cred["password"], base, broker, first_seq))
                except Exception as e:
                    print("ingest QoS %d: not measured: %s" % (qos, why(e)), flush=True)
                    missing.append(("ingest QoS %d" % qos, why(e)))
                first_seq += messages  # each flood its own seqs: the collector stores a seq once
            if got:
                ratios[qos] = percentile(got, 50)
            if len(got) > 1:
                print("ingest QoS %d: collector/bare median %.2f of %d floods (%.2f-%.2f)"
                      % (qos, ratios[qos], len(got), min(got), max(got)), flush=True)
        counters = stub.admin.collector()["counters"]
        print("collector counters: %s" % json.dumps(counters), flush=True)
    return ratios


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, action="append",
                    help="boot storm size (repeatable; default 500 and 2000, 50 with --quick)")
    ap.add_argument("--broker", choices=["embedded", "mosquitto"], default="embedded",
                    help="broker of the stub during the boot storm")
    ap.add_argument("--messages", type=int, default=None,
                    help="messages per QoS in the ingest run (default 20000, 500 with --quick)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="floods per QoS, their median reported (default 3, 1 with --quick)")
    ap.add_argument("--ingest-broker", choices=["mosquitto", "embedded"], default="mosquitto",
                    help="broker of the ingest run (the issue's figure is through Mosquitto)")
    ap.add_argument("--skip-storm", action="store_true")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--quick", action="store_true", help="small sizes: one storm of 50 devices, 500 messages")
    args = ap.parse_args(argv)
    devices = args.devices or ([50] if args.quick else [500, 2000])
    messages = args.messages or (500 if args.quick else 20000)
    tempfile.tempdir = tempfile.gettempdir()
    t0 = time.monotonic()
    missing = []
    if not args.skip_storm:
        for k, n in enumerate(devices):
            try:
                run_storm(n, args.broker, 0x02 + 2 * k)
            except Exception as e:
                print("boot storm N=%d: not measured: %s" % (n, why(e)), flush=True)
                missing.append(("boot storm N=%d" % n, why(e)))
    if not args.skip_ingest:
        try:
            run_ingest(messages, args.ingest_broker, missing, args.repeat or (1 if args.quick else 3))
        except Exception as e:  # the stub, its broker or the device's handshake
            print("ingest: not measured: %s" % why(e), flush=True)
            missing.append(("ingest", why(e)))
    print("run time %.1f s" % (time.monotonic() - t0))
    if missing:
        print("NOT MEASURED (%d figures):" % len(missing))
        for what, reason in missing:
            print("  %s: %s" % (what, reason))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
