"""Benchmarks of the Pi agent, each figure printed beside its baseline run in
the same invocation.

1. CPU and RSS of `python -m rpi_agent` (concentrator role, one serial line on
   a socat pty pair fed JSON lines by a fake board), idle and at 10 readings/s,
   beside two baselines running at the same time, on the same stub and
   Mosquitto, each as its own registered device:
     - "bare bridge": the least a program doing the agent's job can do, a
       pyserial readline() of the same JSON lines on its own pty pair, fed at
       the same rate, then json.loads, the payload as the agent makes it
       (value, value_units, subID, unitID, seq, timestamp) and a paho QoS 1
       publish. No outbox, no checks, no status, no metrics: what it lacks is
       what the agent costs. The goal is measured against it.
     - "bare publisher": paho alone, the same payload made up in-process and
       published at QoS 1 at the same rate (no serial line to read).
   The three run side by side over the same windows, so the load of a shared
   machine falls on all three alike; the loaded window is repeated (3 rounds
   by default, each printed) and the goal judged on the rounds' sum. CPU is
   the sum of every thread's time on a CPU (/proc/PID/task/*/schedstat,
   nanoseconds), not wall time.
2. Outbox: readings/s stored one per transaction (the agent's path: a reading
   or two per loop turn) with sync "ack" (each acked at once, as a PUBACK
   would), "full", "window" and "normal", and in
   batches of 100, with the CPU each stored reading costs; then the drain of
   N queued readings (100,000 by default) by the agent process itself (its
   outbox filled beforehand, its broker a Mosquitto of the bench's with no
   subscriber) from its MQTT connection to its last PUBACK, beside a bare
   paho QoS 1 publisher of the same N payloads to the same Mosquitto in the
   same run (64 in flight as the agent, at most 1,000 handed to paho at
   once: paho's message ids are 16-bit and it keys unacknowledged messages
   by id, so handing it more than 65,535 at once overwrites the oldest, which
   then never get a PUBACK).

    .venv/bin/python bench/agent.py                 # ~5 minutes: 3 rounds of 30 s, 100,000 queued
    .venv/bin/python bench/agent.py --quick         # under a minute: one 10 s round, 5,000 queued

Goals (issue 14): idle RSS at most 40 MB; CPU at 10 readings/s at most 1.5x
the bare bridge's. Printed as met or missed, never asserted. Exits 1 when a
figure could not be measured, with its reason.
"""
import argparse
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
from neocampus import payload  # noqa: E402
from provisioning import mosquitto as mq  # noqa: E402
from provisioning.stub_process import StubServer  # noqa: E402
from rpi_agent import fakes, handshake  # noqa: E402
from rpi_agent.outbox import SYNCS, WINDOWS, Outbox  # noqa: E402

MAC = "02:be:4c:00:00:01"         # the agent
BARE_MAC = "02:be:4c:00:00:02"    # the bare publisher
BRIDGE_MAC = "02:be:4c:00:00:03"  # the bare bridge
DRAIN_MAC = "02:be:4c:00:00:04"   # the agent draining its outbox
WARM_UP = 1200  # readings past SQLite's first WAL checkpoint (1,000 pages, a reading is one)

# Both baselines: argv host port login password topic unit rate seconds [pty].
BARE = r"""
import json, sys, time
import paho.mqtt.client as mqtt
host, port, user, password, topic, unit, rate, seconds = sys.argv[1:9]
rate, seconds = float(rate), float(seconds)
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user)
c.username_pw_set(user, password)
c.connect(host, int(port), keepalive=60)
c.loop_start()
print("ready", flush=True)
n, t0 = 0, time.monotonic()
while time.monotonic() - t0 < seconds:
    if rate > 0:
        text = json.dumps({"value": 19.5 + n % 10 / 10, "value_units": "celsius", "subID": "t1",
                           "unitID": unit, "seq": n, "timestamp": int(time.time())})
        c.publish(topic, text, qos=1)
        n += 1
        time.sleep(max(0, t0 + n / rate - time.monotonic()))
    else:
        time.sleep(0.5)
c.disconnect()
c.loop_stop()
"""

BRIDGE = r"""
import json, sys, time
import paho.mqtt.client as mqtt
import serial
host, port, user, password, topic, unit, rate, seconds, pty = sys.argv[1:10]
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user)
c.username_pw_set(user, password)
c.connect(host, int(port), keepalive=60)
c.loop_start()
port = serial.Serial(pty, 9600, timeout=None)
print("ready", flush=True)
n, buf, going = 0, b"", True
while going:
    buf += port.read(port.in_waiting or 1)  # as the agent reads (readline() would select per byte)
    while b"\n" in buf:
        raw, buf = buf.split(b"\n", 1)
        if raw.strip() == b"stop":
            going = False
            break
        doc = json.loads(raw)
        c.publish(topic + "/" + doc["module"], json.dumps({
            "value": doc["value"], "value_units": "celsius", "subID": doc["subID"], "unitID": unit, "seq": n,
            "timestamp": int(time.time())}), qos=1)
        n += 1
c.disconnect()
c.loop_stop()
"""


def proc_cpu_ns(pid):
    """Time on a CPU of every thread of `pid` (ns): schedstat, finer than the 10 ms ticks of /proc/PID/stat."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended meanwhile
    return total


def proc_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS for %d" % pid)


def windows(pids, seconds):
    """{name: (CPU % of one core, RSS MB at the end)} over the same `seconds` for every pid."""
    c0, t0 = {k: proc_cpu_ns(p) for k, p in pids.items()}, time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    return {k: (100 * (proc_cpu_ns(p) - c0[k]) / 1e9 / dt, proc_rss_mb(p)) for k, p in pids.items()}


def _wait_line(log, text, timeout, poll=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return time.monotonic()
        time.sleep(poll)
    return None


def _agent(stub_url, mac, conf, state, log, metrics=""):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "rpi_agent", "--config", str(conf), "--simulate", "--server",
                             stub_url, "--mac", mac, "--state-dir", str(state), "--metrics", metrics],
                            stdin=subprocess.DEVNULL, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env)


def _credentials(stub, mac, directory):
    creds, conf = handshake.once(handshake.Http(), stub.url, mac, str(directory / ("%s.json" % mac[-2:])))
    return creds["mqtt_login"], creds["mqtt_passwd"], conf.base_topic


def _board(path, rate):
    return fakes.JsonLinesBoard(path, period=1 / rate, lines=lambda n: [
        {"module": "temperature", "value": 19.5 + n % 10 / 10, "subID": "t1"}])


def bench_process(stub, tmp, seconds, rate, sync, window, rounds):
    stub.admin.add_device(MAC, location="bench/agent")
    stub.admin.add_device(BARE_MAC, location="bench/bare")
    stub.admin.add_device(BRIDGE_MAC, location="bench/bridge")
    line, bline = fakes.PtyPair(tmp, "line"), fakes.PtyPair(tmp, "bridge")
    conf = tmp / "agent.toml"
    conf.write_text('[agent]\nroles = ["concentrator"]\nlog_to_server = false\n'
                    '[outbox]\nsync = "%s"\nsync_window = %g\n'
                    '[[concentrator.serial]]\nport = "%s"\nunit = "board"\nsilent_after = 3600\n'
                    % (sync, window, line.agent_end))
    log = tmp / "agent.log"
    agent = _agent(stub.url, MAC, conf, tmp / "state", log)
    procs = {"agent": agent}
    boards = []
    out = {}
    try:
        if not _wait_line(log, "connected to", 30):
            raise RuntimeError("the agent did not connect:\n" + log.read_text()[-2000:])
        for name, mac, script, extra in (("bare publisher", BARE_MAC, BARE, []),
                                          ("bare bridge", BRIDGE_MAC, BRIDGE, [bline.agent_end])):
            user, password, base = _credentials(stub, mac, tmp)
            p = procs[name] = subprocess.Popen(
                [sys.executable, "-c", script, stub.mqtt_host, str(stub.mqtt_port), user, password,
                 base + ("/temperature" if script is BARE else ""), "bench_" + mac[-2:], "0" if script is BARE else "",
                 str(4 * seconds + 30)] + extra, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("the %s did not start" % name)
        time.sleep(2)
        pids = {"agent": agent.pid, "bare bridge": procs["bare bridge"].pid}
        idle = windows(dict(pids, **{"bare publisher": procs["bare publisher"].pid}), seconds)
        for k, v in idle.items():
            out[k + " idle"] = v
        # The bare publisher makes its own readings: started again at the rate for the loaded window.
        procs["bare publisher"].terminate()
        procs["bare publisher"].wait(10)
        user, password, base = _credentials(stub, BARE_MAC, tmp)
        p = procs["bare publisher"] = subprocess.Popen(
            [sys.executable, "-c", BARE, stub.mqtt_host, str(stub.mqtt_port), user, password, base + "/temperature",
             "bench_02", str(rate), str((rounds + 1) * seconds + 120)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            text=True)
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("the bare publisher did not start")
        boards = [_board(line.field_end, rate), _board(bline.field_end, rate)]
        for b in boards:
            b.start()
        time.sleep(2)
        every = dict(pids, **{"bare publisher": p.pid})
        out["fresh"] = windows(every, seconds)
        # A Pi in service: its outbox's WAL has been through a checkpoint and is
        # written over in place (an fsync of a file that does not grow costs
        # about half as much: see the outbox figures below). A fresh agent's
        # first ~1,000 readings grow it; the round above measured that.
        wal = tmp / "state" / "outbox.sqlite-wal"
        w0 = boards[0].written
        boards[0].period = 1 / 200
        while boards[0].written < w0 + WARM_UP:
            time.sleep(0.2)
        boards[0].period = 1 / rate
        time.sleep(2)
        out["wal KB"] = [wal.stat().st_size // 1024]
        out["rounds"] = [windows(every, seconds) for _ in range(rounds)]
        out["wal KB"].append(wal.stat().st_size // 1024)
        for k in out["rounds"][0]:
            out[k + " loaded"] = (sum(r[k][0] for r in out["rounds"]) / rounds, out["rounds"][-1][k][1])
        out["board wrote"] = boards[0].written
    finally:
        for b in boards:
            b.stop()
        for b in boards:
            b.join(5)
        if "bare bridge" in procs:
            with open(bline.field_end, "wb", buffering=0) as f:
                f.write(b"stop\n")
        for name, p in procs.items():
            if name != "bare bridge":
                p.terminate()
        for p in procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        line.stop()
        bline.stop()
    time.sleep(1)  # the collector's last batch
    rows = stub.admin.readings(topic="bench/agent", limit=100000)
    out["agent delivered"] = len([r for r in rows if r["unitID"] == "board_0001" and r["seq"] is not None])
    return out


def bench_store(tmp, n):
    """{label: (readings/s, CPU µs per reading)}."""
    out = {}
    for sync in ("ack", "full", "window", "normal"):
        ob = Outbox(str(tmp / ("store-%s.sqlite" % sync)), max_readings=10 * n, sync=sync)
        k = min(n, 5000 if sync == "full" else n)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(k):
            if i == 1000 and sync == "full":  # SQLite's first checkpoint: from here the WAL is written over in place
                out["store one/txn full, WAL growing (first 1,000)"] = (
                    i / (time.perf_counter() - t0), 1e6 * (time.process_time() - c0) / i)
                t1, c1 = time.perf_counter(), time.process_time()
            ob.add("bench/agent/temperature", '{"value": 21.0, "seq": %d}' % i, i, time.time())
            if sync == "ack":
                ob.ack(ob.last_id)
            due = ob.sync_due()
            if due is not None and time.monotonic() >= due:
                ob.sync()
        ob.sync()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        out["store one/txn %s" % (sync + (", each acked" if sync == "ack" else ""))] = (k / wall, 1e6 * cpu / k)
        if sync == "full" and k > 1000:
            out["store one/txn full, WAL in place (next %s)" % format(k - 1000, ",")] = (
                (k - 1000) / (time.perf_counter() - t1), 1e6 * (time.process_time() - c1) / (k - 1000))
        ob.close()
    ob = Outbox(str(tmp / "store-batch.sqlite"), max_readings=10 * n)
    t0, c0 = time.perf_counter(), time.process_time()
    for b in range(0, n, 100):
        ob.add_many([(ob.seq + i, "bench/agent/temperature", '{"value": 21.0, "seq": %d}' % (b + i))
                     for i in range(min(100, n - b))], time.time())
    out["store batch 100 full"] = (n / (time.perf_counter() - t0), 1e6 * (time.process_time() - c0) / n)
    ob.close()
    return out


def bare_drain(host, port, texts, topic, window=64, handed=1000):
    """Seconds from CONNACK to the last PUBACK of a plain paho client publishing `texts` at QoS 1."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bare")
    c.username_pw_set("bare", "b-pass")
    c.max_inflight_messages_set(window)
    room = threading.BoundedSemaphore(handed)
    done = threading.Event()
    acked = [0]

    def on_publish(client, userdata, mid, rc, props):
        acked[0] += 1
        room.release()
        if acked[0] == len(texts):
            done.set()

    up = threading.Event()
    c.on_publish = on_publish
    c.on_connect = lambda *a: up.set()
    c.connect(host, port)
    c.loop_start()
    try:
        if not up.wait(10):
            raise RuntimeError("the bare publisher did not connect")
        t0 = time.perf_counter()
        for text in texts:
            if not room.acquire(timeout=60):
                raise RuntimeError("the bare publisher got no PUBACK for 60 s (%d of %d)" % (acked[0], len(texts)))
            c.publish(topic, text, qos=1)
        if not done.wait(600):
            raise RuntimeError("the bare publisher got %d of %d PUBACKs" % (acked[0], len(texts)))
        return time.perf_counter() - t0
    finally:
        c.disconnect()
        c.loop_stop()


def bench_drain(stub, tmp, n, sync, window):
    """The agent process draining n readings stored before it started, beside a bare publisher."""
    port = mq.free_port()
    stub.admin.add_device(DRAIN_MAC, location="bench/drain", server="127.0.0.1", port=port)
    state = tmp / "state"
    state.mkdir()
    # The handshake made here stores the credentials where the agent finds them (the stub hands
    # a password out once), so that the bench's Mosquitto can know them before the agent starts.
    creds, conf = handshake.once(handshake.Http(), stub.url, DRAIN_MAC, str(state / "credentials.json"))
    login, base = creds["mqtt_login"], conf.base_topic
    broker = mq.Mosquitto(tmp / "mosquitto", port=port, users={login: creds["mqtt_passwd"], "bare": "b-pass"},
                          acl=mq.Acl().allow(login, "readwrite", "#").allow("bare", "readwrite", "#"))
    topic = base + "/temperature"
    texts = ["".join(payload.reading("temperature", 19.5 + i % 10 / 10, "board_0004", "t1", i, 1796500000 + i // 10))
             for i in range(n)]
    ob = Outbox(str(state / "outbox.sqlite"), max_readings=10 * n)
    for b in range(0, n, 1000):
        ob.add_many([(b + i, topic, texts[b + i]) for i in range(min(1000, n - b))], time.time())
    ob.close()
    out = {}
    quiet = fakes.PtyPair(tmp, "quiet")  # a line that says nothing: no new readings during the drain
    broker.start()
    try:
        c = tmp / "agent.toml"
        c.write_text('[agent]\nroles = ["concentrator"]\nlog_to_server = false\n'
                     '[outbox]\nsync = "%s"\nsync_window = %g\nmax_readings = %d\n'
                     '[[concentrator.serial]]\nport = "%s"\nsilent_after = 3600\n'
                     % (sync, window, 10 * n, quiet.agent_end))
        log = tmp / "agent.log"
        agent = _agent(stub.url, DRAIN_MAC, c, state, log)
        try:
            t_conn = _wait_line(log, "connected to", 60, poll=0.01)
            if t_conn is None:
                raise RuntimeError("the draining agent did not connect:\n" + log.read_text()[-2000:])
            t_done = _wait_line(log, "readings waiting at the connection were sent in", 600, poll=0.01)
            if t_done is None:
                raise RuntimeError("the agent did not drain its outbox in 600 s:\n" + log.read_text()[-2000:])
            out["drain s"] = t_done - t_conn
            said = [x for x in log.read_text().splitlines() if "at the connection were sent in" in x][0]
            out["agent says"] = said.split(": ", 1)[1]
        finally:
            agent.terminate()
            agent.wait(20)
        out["bare s"] = bare_drain(broker.host, broker.port, texts, topic)
    finally:
        broker.stop()
        quiet.stop()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30, help="each CPU/RSS window (default 30 s)")
    ap.add_argument("--queued", type=int, default=100000, help="readings queued for the drain (default 100,000)")
    ap.add_argument("--rate", type=float, default=10, help="readings/s of the loaded runs (default 10)")
    ap.add_argument("--sync", choices=SYNCS, default="ack",
                    help="the agent's outbox.sync in the process and drain runs (default ack, the agent's default)")
    ap.add_argument("--sync-window", type=float, help="outbox.sync_window (default: the agent's for --sync)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="loaded windows in a row, each printed, the goal judged on their sum (default 3)")
    ap.add_argument("--quick", action="store_true", help="10 s windows, one round, 5,000 readings")
    a = ap.parse_args(argv)
    if a.quick:
        a.seconds, a.queued, a.rounds = 10, 5000, 1
    failed = []
    if a.sync_window is None:
        a.sync_window = WINDOWS.get(a.sync, 1.0)
    sync = a.sync + (" (%g s)" % a.sync_window if a.sync in WINDOWS else "")
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as d:
        tmp = pathlib.Path(d)
        with StubServer(tmp / "stub", broker="mosquitto") as stub:
            print("== agent process beside a bare bridge and a bare publisher, at the same time (%g s windows, "
                  "%g readings/s, QoS 1, Mosquitto, outbox sync %s)" % (a.seconds, a.rate, sync))
            try:
                (tmp / "p").mkdir()
                r = bench_process(stub, tmp / "p", a.seconds, a.rate, a.sync, a.sync_window, a.rounds)
                for state in ("idle", "loaded"):
                    for who in ("agent", "bare bridge", "bare publisher"):
                        cpu, rss = r["%s %s" % (who, state)]
                        print("  %-6s %-15s CPU %6.3f %% of a core   RSS %5.1f MB"
                              % ("idle" if state == "idle" else "%g/s" % a.rate, who, cpu, rss))
                ratios = []
                for i, w in enumerate(r["rounds"]):
                    ratios.append(w["agent"][0] / max(w["bare bridge"][0], 0.001))
                    print("  round %d at %g/s: agent %.3f %%, bare bridge %.3f %%, bare publisher %.3f %%: "
                          "agent/bare bridge %.2fx" % (i + 1, a.rate, w["agent"][0], w["bare bridge"][0],
                                                       w["bare publisher"][0], ratios[-1]))
                f = r["fresh"]
                print("  a fresh agent (its first readings, the outbox's WAL still growing) at %g/s: agent %.3f %%, "
                      "bare bridge %.3f %%: %.2fx (for information; the rounds above are after %d readings more, "
                      "the WAL written over in place: %d KB then %d KB)"
                      % (a.rate, f["agent"][0], f["bare bridge"][0], f["agent"][0] / max(f["bare bridge"][0], 0.001),
                         WARM_UP, r["wal KB"][0], r["wal KB"][1]))
                agent, bridge, bare = (r[k + " loaded"][0] for k in ("agent", "bare bridge", "bare publisher"))
                ratio = agent / max(bridge, 0.001)
                print("  CPU at %g/s over the %d rounds: agent/bare bridge %.2fx (rounds %.2f-%.2fx; goal <= 1.5x: "
                      "%s); agent/bare publisher %.2fx" % (a.rate, a.rounds, ratio, min(ratios), max(ratios),
                                                          "met" if ratio <= 1.5 else "MISSED", agent / max(bare, 0.001)))
                print("  idle RSS %.1f MB (goal <= 40 MB: %s), %.2fx the bare bridge's"
                      % (r["agent idle"][1], "met" if r["agent idle"][1] <= 40 else "MISSED",
                         r["agent idle"][1] / r["bare bridge idle"][1]))
                print("  the board wrote %d readings, the collector stored %d from the agent"
                      % (r["board wrote"], r["agent delivered"]))
            except Exception as e:
                failed.append("agent process: %s" % (str(e).splitlines() or [repr(e)])[-1])
            print("== outbox (SQLite WAL)")
            try:
                (tmp / "s").mkdir()
                for k, (rate, cpu) in bench_store(tmp / "s", a.queued).items():
                    print("  %-46s %9.0f readings/s   CPU %6.1f us/reading" % (k, rate, cpu))
            except Exception as e:
                failed.append("outbox store: %s" % e)
            try:
                (tmp / "d").mkdir()
                r = bench_drain(stub, tmp / "d", a.queued, a.sync, a.sync_window)
                print("  drain of %d queued readings by the agent process, connection to last PUBACK: %.1f s "
                      "(%.0f readings/s; the agent's log: %s)" % (a.queued, r["drain s"], a.queued / r["drain s"],
                                                                 r["agent says"]))
                print("  bare paho publisher of the same %d payloads, CONNACK to last PUBACK: %.1f s (%.0f/s); "
                      "ratio %.2fx" % (a.queued, r["bare s"], a.queued / r["bare s"], r["drain s"] / r["bare s"]))
            except Exception as e:
                failed.append("outbox drain: %s" % (str(e).splitlines() or [repr(e)])[0])
    for f in failed:
        print("NOT MEASURED: " + f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
