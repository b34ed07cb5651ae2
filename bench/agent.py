"""Benchmarks of the Pi agent, each figure printed beside its baseline run in
the same invocation.

1. RSS and CPU of `python -m rpi_agent` (concentrator role, one serial line on
   a socat pty pair), idle and at 10 readings/s (a fake board writing JSON
   lines), beside a bare paho publisher process publishing the same payloads
   at QoS 1 at the same rate (ratio). Both talk to the stub's Mosquitto.
2. Outbox: readings/s stored one per transaction (the agent's path: a
   reading or two per loop turn) with sync "full" and "normal", and in
   batches of 100; drained through the agent's Transport to Mosquitto at
   QoS 1 (readings/s and the drain time of N queued readings, 100,000 by
   default), beside a bare paho QoS 1 publisher of the same N messages.

    .venv/bin/python bench/agent.py                 # ~2 minutes
    .venv/bin/python bench/agent.py --quick         # seconds: 5 s windows, 5,000 readings

Goals (issue 14): idle RSS at most 40 MB; CPU at 10 readings/s at most 1.5x
the bare publisher's. Printed as met or missed, never asserted. Exits 1 when
a figure could not be measured, with its reason.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from provisioning import mosquitto as mq  # noqa: E402
from provisioning.stub_process import StubServer  # noqa: E402
from rpi_agent import fakes  # noqa: E402
from rpi_agent.outbox import Outbox  # noqa: E402
from rpi_agent.transport import Transport  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
MAC = "02:be:4c:00:00:01"

BARE = r"""
import json, sys, time
import paho.mqtt.client as mqtt
host, port, user, password, topic, rate, seconds = sys.argv[1:8]
rate, seconds = float(rate), float(seconds)
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user)
c.username_pw_set(user, password)
c.connect(host, int(port), keepalive=60)
c.loop_start()
print("ready", flush=True)
n, t0 = 0, time.monotonic()
while seconds <= 0 or time.monotonic() - t0 < seconds:
    if rate > 0:
        text = json.dumps({"value": 19.5 + n % 10 / 10, "value_units": "celsius", "subID": "t1",
                           "unitID": "bare_0001", "seq": n, "timestamp": int(time.time())})
        c.publish(topic, text, qos=1)
        n += 1
        time.sleep(max(0, t0 + n / rate - time.monotonic()))
    else:
        time.sleep(0.5)
c.disconnect()
c.loop_stop()
"""


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS for %d" % pid)


def window(pid, seconds):
    """(CPU % of one core, RSS MB at the end) over `seconds`."""
    c0, t0 = proc_cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    c1, t1 = proc_cpu_s(pid), time.monotonic()
    return 100 * (c1 - c0) / (t1 - t0), proc_rss_mb(pid)


def _wait_line(log, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return True
        time.sleep(0.1)
    return False


def bench_process(stub, tmp, seconds, rate, sync):
    stub.admin.add_device(MAC, location="bench/agent")
    pair = fakes.PtyPair(tmp, "line")
    conf = tmp / "agent.toml"
    conf.write_text('[agent]\nroles = ["concentrator"]\nlog_to_server = false\n[metrics]\nlisten = ""\n'
                    '[outbox]\nsync = "%s"\n'
                    '[[concentrator.serial]]\nport = "%s"\nunit = "board"\nsilent_after = 3600\n' % (sync, pair.agent_end))
    log = tmp / "agent.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    agent = subprocess.Popen([sys.executable, "-m", "rpi_agent", "--config", str(conf), "--simulate", "--server",
                              stub.url, "--mac", MAC, "--state-dir", str(tmp / "state")],
                             stdin=subprocess.DEVNULL, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env)
    out = {}
    board = None
    try:
        if not _wait_line(log, "connected to", 30):
            raise RuntimeError("the agent did not connect:\n" + log.read_text()[-2000:])
        time.sleep(2)
        out["agent idle"] = window(agent.pid, seconds)
        board = fakes.JsonLinesBoard(pair.field_end, period=1 / rate,
                                     lines=lambda n: [{"module": "temperature", "value": 19.5 + n % 10 / 10,
                                                       "subID": "t1"}])
        board.start()
        time.sleep(2)
        out["agent 10/s"] = window(agent.pid, seconds)
        n0 = board.written
    finally:
        if board is not None:
            board.stop()
        agent.terminate()
        agent.wait(20)
        pair.stop()
    creds = json.loads((tmp / "state" / "credentials.json").read_text())
    for label, r in (("bare idle", 0), ("bare 10/s", rate)):
        p = subprocess.Popen([sys.executable, "-c", BARE, stub.mqtt_host, str(stub.mqtt_port), creds["mqtt_login"],
                              creds["mqtt_passwd"], "bench/agent/temperature", str(r), str(seconds + 4)],
                             stdout=subprocess.PIPE, text=True)
        try:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("the bare publisher did not start")
            time.sleep(2)
            out[label] = window(p.pid, seconds)
        finally:
            p.wait(seconds + 20)
    rows = stub.admin.readings(topic="bench/agent", limit=100000)
    out["agent delivered"] = len([r for r in rows if r["unitID"] == "board_0001" and r["seq"] is not None])
    out["board wrote"] = n0
    return out


def bench_store(tmp, n):
    out = {}
    for sync in ("full", "normal"):
        ob = Outbox(str(tmp / ("store-%s.sqlite" % sync)), max_readings=10 * n, sync=sync)
        k = min(n, 5000 if sync == "full" else n)
        t0 = time.perf_counter()
        for i in range(k):
            ob.add("bench/agent/temperature", '{"value": 21.0, "seq": %d}' % i, i, time.time())
        out["store one/txn %s" % sync] = k / (time.perf_counter() - t0)
        ob.close()
    ob = Outbox(str(tmp / "store-batch.sqlite"), max_readings=10 * n)
    t0 = time.perf_counter()
    for b in range(0, n, 100):
        ob.add_many([(ob.seq + i, "bench/agent/temperature", '{"value": 21.0, "seq": %d}' % (b + i))
                     for i in range(min(100, n - b))], time.time())
    out["store batch 100 full"] = n / (time.perf_counter() - t0)
    ob.close()
    return out


def bench_drain(tmp, n):
    broker = mq.Mosquitto(tmp / "mosquitto", users={"agent": "a-pass", "bare": "b-pass"},
                          acl=mq.Acl().allow("agent", "readwrite", "#").allow("bare", "readwrite", "#"),
                          extra=["max_queued_messages 1000000", "max_inflight_messages 64"])
    broker.start()
    out = {}
    try:
        ob = Outbox(str(tmp / "drain.sqlite"), max_readings=10 * n)
        for b in range(0, n, 1000):
            ob.add_many([(ob.seq + i, "bench/agent/temperature", '{"value": 21.0, "seq": %d}' % (b + i))
                         for i in range(min(1000, n - b))], time.time())
        t = Transport(ob, "bench-agent", broker.host, broker.port, "agent", "a-pass", "bench/agent/device", "{}")
        t.start()
        if not t.connected.wait(10):
            raise RuntimeError("the transport did not connect")
        t0 = time.perf_counter()
        # The agent's loop, minus everything else: pump, flush, 50 ms turns at most.
        while len(ob):
            if not t.pump():
                time.sleep(0.001)
            ob.flush()
            if time.perf_counter() - t0 > 600:
                raise RuntimeError("drain stalled at %d left" % len(ob))
        out["drain s"] = time.perf_counter() - t0
        t.stop()
        ob.close()
        # The bare publisher: the same messages, paho's own in-flight window of 64.
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bare")
        c.username_pw_set("bare", "b-pass")
        c.max_inflight_messages_set(64)
        done = threading.Event()
        acked = [0]

        def on_publish(client, userdata, mid, rc, props):
            acked[0] += 1
            if acked[0] == n:
                done.set()

        up = threading.Event()
        c.on_publish = on_publish
        c.on_connect = lambda *a: up.set()
        c.connect(broker.host, broker.port)
        c.loop_start()
        if not up.wait(10):
            raise RuntimeError("the bare publisher did not connect")
        t0 = time.perf_counter()
        for i in range(n):
            c.publish("bench/agent/temperature", '{"value": 21.0, "seq": %d}' % i, qos=1)
        if not done.wait(600):
            raise RuntimeError("the bare publisher got %d of %d PUBACKs" % (acked[0], n))
        out["bare s"] = time.perf_counter() - t0
        c.disconnect()
        c.loop_stop()
    finally:
        broker.stop()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20, help="each CPU/RSS window (default 20 s)")
    ap.add_argument("--queued", type=int, default=100000, help="readings queued for the drain (default 100,000)")
    ap.add_argument("--rate", type=float, default=10, help="readings/s of the loaded runs (default 10)")
    ap.add_argument("--sync", choices=("full", "normal"), default="full",
                    help="the agent's outbox.sync in the process runs (default full, the agent's default)")
    ap.add_argument("--quick", action="store_true", help="5 s windows, 5,000 readings")
    a = ap.parse_args(argv)
    if a.quick:
        a.seconds, a.queued = 5, 5000
    failed = []
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as d:
        tmp = pathlib.Path(d)
        print("== agent process vs bare paho publisher (%g s windows, %g readings/s, QoS 1, Mosquitto, "
              "outbox sync %s)" % (a.seconds, a.rate, a.sync))
        try:
            with StubServer(tmp / "stub", broker="mosquitto") as stub:
                (tmp / "p").mkdir()
                r = bench_process(stub, tmp / "p", a.seconds, a.rate, a.sync)
            for label in ("agent idle", "bare idle", "agent 10/s", "bare 10/s"):
                cpu, rss = r[label]
                print("  %-11s CPU %5.1f %% of a core   RSS %5.1f MB" % (label, cpu, rss))
            cpu_ratio = r["agent 10/s"][0] / max(r["bare 10/s"][0], 0.01)
            rss_ratio = r["agent idle"][1] / r["bare idle"][1]
            print("  ratio agent/bare: CPU at %g/s %.2fx (goal <= 1.5x: %s), idle RSS %.2fx"
                  % (a.rate, cpu_ratio, "met" if cpu_ratio <= 1.5 else "MISSED", rss_ratio))
            print("  idle RSS %.1f MB (goal <= 40 MB: %s)"
                  % (r["agent idle"][1], "met" if r["agent idle"][1] <= 40 else "MISSED"))
            print("  the board wrote %d readings, the collector stored %d from the agent"
                  % (r["board wrote"], r["agent delivered"]))
        except Exception as e:
            failed.append("agent process: %s" % (str(e).splitlines() or [repr(e)])[-1])
        print("== outbox (SQLite WAL)")
        try:
            (tmp / "s").mkdir()
            r = bench_store(tmp / "s", a.queued)
            for k, v in r.items():
                print("  %-22s %9.0f readings/s" % (k, v))
        except Exception as e:
            failed.append("outbox store: %s" % e)
        try:
            (tmp / "d").mkdir()
            r = bench_drain(tmp / "d", a.queued)
            print("  drain of %d queued readings: %.1f s (%.0f readings/s); bare paho publisher of the same: "
                  "%.1f s (%.0f/s); ratio %.2fx" % (a.queued, r["drain s"], a.queued / r["drain s"], r["bare s"],
                                                   a.queued / r["bare s"], r["drain s"] / r["bare s"]))
        except Exception as e:
            failed.append("outbox drain: %s" % e)
    for f in failed:
        print("NOT MEASURED: " + f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
