"""Benchmark of the firmware's outbox (firmware/neosensor/outbox.py, issue 13).

Prints, in one run:
  * readings kept per KB of queue file, and what the default ring holds;
  * the heap the outbox holds at rest and what one put and one peek leave
    as garbage, measured in the MicroPython 1.29 unix port (64-bit);
  * the time a virtual board takes to drain N readings queued on its flash
    (an outage's worth: written beforehand by the outbox's own put()) once it
    connects, each at QoS 1, beside a bare umqtt.simple client publishing the
    same N payloads at QoS 1 to the same Mosquitto in the same run (ratio).

Everything is real: the MicroPython unix port, Mosquitto with a password and
an ACL, paho as the observer. Exits 1 when a figure could not be measured,
2 when it cannot run here (no MicroPython, no Mosquitto).

    python bench/outbox.py [--readings N] [--quick]
"""
import argparse
import json
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from provisioning.mosquitto import Acl, Mosquitto, MosquittoError  # noqa: E402
from tests.support.mqtt_observer import Observer  # noqa: E402
from toolchain import micropython as upy  # noqa: E402
from toolchain.deploy import deploy, write_config  # noqa: E402
from toolchain.mpy import compile_file  # noqa: E402

MAC = "aa:bb:cc:00:0b:e1"
TOPIC = "TestTopic/neOSensor_0be1/temperature"
RECORD = 192          # outbox.RECORD
DEFAULT_RECORDS = 4320

FILL = """
import sys, gc
from neosensor import outbox
n = int(sys.argv[1])
outbox.open_ring(n + 16)
gc.collect()
rest = gc.mem_alloc()
for i in range(n):
    outbox.put("%s", ['{"value": %%d.125, "value_units": "celsius", "subID": "24", ' %% (20 + i %% 5),
                      '"unitID": "auto_0be1", "seq": %%d}' %% i], i)
gc.collect()
a = gc.mem_alloc()
outbox.put("%s", ['{"value": 21.125, "value_units": "celsius", "subID": "24", ', '"unitID": "auto_0be1", "seq": 0}'], 0)
put = gc.mem_alloc() - a
gc.collect()
a = gc.mem_alloc()
t = outbox.peek()
peek = gc.mem_alloc() - a
print("FIGURES", rest, put, peek)
""" % (TOPIC, TOPIC)

HELD = """
import gc
gc.collect()
a = gc.mem_alloc()
from neosensor import outbox
gc.collect()
b = gc.mem_alloc()
outbox.open_ring(64)
gc.collect()
print("HELD", b - a, gc.mem_alloc() - b)
"""

BARE = """
import sys, time
from umqtt.simple import MQTTClient
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = MQTTClient("bare-outbox", host, port=port, user="test", password="test", keepalive=60, timeout=10)
c.connect()
t0 = time.ticks_ms()
for i in range(n):
    c.publish_parts("%s", ['{"value": %%d.125, "value_units": "celsius", "subID": "24", ' %% (20 + i %% 5),
                           '"unitID": "auto_0be1", "seq": %%d}' %% i], 1)
print("BARE", time.ticks_diff(time.ticks_ms(), t0))
c.disconnect()
""" % TOPIC


class NotMeasured(RuntimeError):
    pass


def _lib(work):
    """The firmware modules these probes import, as .mpy."""
    lib = pathlib.Path(work) / "lib"
    for rel in ("neosensor/__init__.py", "neosensor/store.py", "neosensor/outbox.py"):
        compile_file(ROOT / "firmware" / rel, lib / rel.replace(".py", ".mpy"), source_name=rel)
    compile_file(ROOT / "firmware" / "lib" / "umqtt" / "simple.py", lib / "umqtt" / "simple.mpy",
                 source_name="umqtt/simple.py")
    (lib / "umqtt" / "__init__.py").write_text("")
    return lib


def _vm(code, lib, cwd, args=(), what="probe"):
    out = upy.run(code=code, args=[str(a) for a in args], heap="512k", path=[lib], cwd=cwd, timeout=300)
    if out.returncode != 0:
        raise NotMeasured("%s: %s" % (what, (out.stderr or out.stdout).strip().splitlines()[-1:]))
    return out.stdout


def drain(work, broker, n):
    """Seconds from the board's MQTT connection to the last of n queued
    readings received by the observer; (seconds, received)."""
    from virtual_board import DEFAULT_HEAP, VirtualBoard
    flash = pathlib.Path(work) / "flash"
    deploy(flash, mode="romfs")
    write_config(flash, None, ("campus", "secret"), (broker.host, broker.port), sandbox=True,
                 extra={"outbox": {"records": n + 16}})
    out = _vm(FILL, _lib(work), flash, [n], "filling the outbox")
    figures = [int(x) for x in out.split("FIGURES", 1)[1].split()]
    obs = Observer(broker.host, broker.port, "test", "test", clock=time.monotonic)
    obs.subscribe("TestTopic/#")
    board = VirtualBoard(MAC, wifi=("campus", "secret"), sandbox=True, heap=DEFAULT_HEAP, flash_dir=flash,
                         blank=True, echo=False, broker=(broker.host, broker.port))
    board.start()
    try:
        i, _ = board.wait_for(r"^mqtt: connected", 120)
        t_conn = board.times[i]
        deadline = time.monotonic() + 300
        seen = set()
        last = None
        while time.monotonic() < deadline and len(seen) < n:
            for m in obs.messages[len(seen) and 0:]:
                if m.topic == TOPIC:
                    seq = json.loads(m.payload).get("seq")
                    if isinstance(seq, int) and seq < n and seq not in seen:
                        seen.add(seq)
                        last = m.time
            time.sleep(0.2)
        if len(seen) < n:
            raise NotMeasured("drain: %d of %d queued readings received" % (len(seen), n))
        bad = [x for x in board.lines if "MemoryError" in x or "Traceback" in x]
        if bad:
            raise NotMeasured("drain: the board said %r" % bad[0])
        # The board's clock (time.time of its console line) against the observer's monotonic one.
        t_conn_mono = time.monotonic() - (time.time() - t_conn)
        return last - t_conn_mono, figures
    finally:
        board.stop()
        obs.close()


def bare(work, broker, n):
    out = _vm(BARE, _lib(work), work, [broker.host, broker.port, n], "bare umqtt publisher")
    return int(out.split("BARE", 1)[1].split()[0]) / 1000.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--readings", type=int, default=1000, help="queued readings to drain (default 1000)")
    ap.add_argument("--quick", action="store_true", help="200 readings")
    args = ap.parse_args()
    n = 200 if args.quick else args.readings
    reason = upy.unavailable_reason()
    if reason:
        print("bench/outbox.py cannot run here: %s" % reason)
        return 2
    t0 = time.monotonic()
    missing = []
    with tempfile.TemporaryDirectory(prefix="neoc-bench-outbox-") as work:
        acl = Acl()
        acl.allow("test", "readwrite", "TestTopic/#")
        try:
            broker = Mosquitto(pathlib.Path(work) / "mosquitto", users={"test": "test"}, acl=acl).start()
        except MosquittoError as e:
            print("bench/outbox.py cannot run here: %s" % e)
            return 2
        try:
            held = _vm(HELD, _lib(work), work, (), "outbox at rest")
            code, rest = (int(x) for x in held.split("HELD", 1)[1].split())
            print("== bench/outbox.py: the firmware's outbox (MicroPython 1.29 unix port, 64-bit; Mosquitto) ==")
            print("record %d B: %.2f readings per KB of queue file; the default ring, %d records, is %.0f KB "
                  "(24 h of a board with three modules publishing every 60 s)"
                  % (RECORD, 1024.0 / RECORD, DEFAULT_RECORDS, DEFAULT_RECORDS * RECORD / 1024.0))
            print("heap: module %d B, at rest once open (buffer, file, views) %d B" % (code, rest))
            try:
                took, (_, put, peek) = drain(work, broker, n)
                base = bare(work, broker, n)
                print("garbage left by one put() %d B, by one peek() %d B (collected each loop turn)" % (put, peek))
                print("drain of %d queued readings after the connection: %.2f s (%.0f/s); bare umqtt.simple "
                      "QoS 1, same payloads, same broker: %.2f s (%.0f/s); ratio %.2f"
                      % (n, took, n / took, base, n / base, took / base))
            except NotMeasured as e:
                missing.append(str(e))
        finally:
            broker.stop()
    print("run time %.0f s%s" % (time.monotonic() - t0, " (--quick)" if args.quick else ""))
    if missing:
        print("NOT MEASURED (%d figures):" % len(missing))
        for m in missing:
            print("  " + m)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
