"""I2C traffic and RAM of the chip drivers (issue 3 benchmark).

For each chip, on its register-level model through SimBus (CPython):
  * I2C transactions and bytes (written + read) per read() of our driver, steady state
    (after one warm-up read, the chip given time for a fresh result before each read);
  * for TSL2591 and BME280, the same for Adafruit's CircuitPython driver on the same
    model, and the ratio ours / Adafruit (goal: <= 1). "One read" for Adafruit means the
    properties that give what our read() returns: .lux, or .temperature + .humidity +
    .pressure. adafruit_bme280 is run with its defaults (pressure x16) and with our
    oversampling (all x1), since its status polling depends on the measurement time.
Under the MicroPython unix port (drivers as .mpy, as boards run them):
  * import RAM of the chip's driver module (gc.mem_alloc after gc.collect, before/after;
    the shared bus adapter drivers.bus is reported once);
  * allocation per read(): gc.mem_alloc before/after one read() with the bus swapped for
    a replay of that chip's recorded bytes, so only the driver's own allocation counts.
Prints a table. Exits 1 when a figure could not be measured (each says why: the
last line of its traceback), so that a change that breaks the bench fails
tests/test_bench_quick.py rather than printing a hole. --quick: fewer reads.

    python bench/i2c_traffic.py [--quick]
"""
import argparse
import os
import pathlib
import sys
import tempfile
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from drivers.sim import SimBus  # noqa: E402

READS = 5
SETTLE_MS = 6000    # virtual time before each read: every chip has a fresh result by then

# name, driver module, class, model module, model class, address, model kwargs
CHIPS = [
    ("MCP9808", "drivers.mcp9808", "MCP9808", "drivers.sim.mcp9808", "MCP9808Model", 0x18,
     {"temperature": 22.5}),
    ("SHT3x", "drivers.sht3x", "SHT3X", "drivers.sim.sht3x", "SHT3XModel", 0x44,
     {"temperature": 22.5, "humidity": 40.0}),
    ("SHT2x", "drivers.sht2x", "SHT2X", "drivers.sim.sht2x", "SHT2XModel", 0x40,
     {"temperature": 22.5, "humidity": 40.0}),
    ("SCD4x", "drivers.scd4x", "SCD4X", "drivers.sim.scd4x", "SCD4XModel", 0x62,
     {"co2": 650, "temperature": 22.5, "humidity": 40.0}),
    ("TSL2561", "drivers.tsl2561", "TSL2561", "drivers.sim.tsl2561", "TSL2561Model", 0x39,
     {"lux": 300.0}),
    ("TSL2591", "drivers.tsl2591", "TSL2591", "drivers.sim.tsl2591", "TSL2591Model", 0x29,
     {"lux": 300.0}),
    ("MAX44009", "drivers.max44009", "MAX44009", "drivers.sim.max44009", "MAX44009Model", 0x4A,
     {"lux": 300.0}),
    ("BME280", "drivers.bme280", "BME280", "drivers.sim.bme280", "BME280Model", 0x76,
     {"temperature": 21.5, "humidity": 45.0, "pressure": 1013.25}),
]


def why(e):
    """The last line of e's traceback: what a failed figure says instead of a number."""
    return traceback.format_exception_only(type(e), e)[-1].strip()


def last_line(*texts):
    """Last non-blank line of a child's output. The MicroPython unix port prints
    its tracebacks on stdout, so both streams are looked at, stderr first."""
    for text in texts:
        lines = [x for x in (text or "").splitlines() if x.strip()]
        if lines:
            return lines[-1].strip()
    return None


def _load(modname, attr):
    mod = __import__(modname, None, None, [attr])
    return getattr(mod, attr)


def per_read(bus, read, reads):
    """Mean (transactions, bytes) of read() over `reads` steady-state reads."""
    read()
    tr = by = 0
    for _ in range(reads):
        bus.sleep_ms(SETTLE_MS)
        bus.reset_counters()
        read()
        tr += bus.transactions
        by += bus.bytes_written + bus.bytes_read
    return tr / reads, by / reads


def ours(chip, reads):
    name, dmod, dcls, mmod, mcls, addr, mkw = chip
    try:
        bus = SimBus()
        bus.attach(addr, _load(mmod, mcls)(**mkw))
        sensor = _load(dmod, dcls)(bus, addr)
        return per_read(bus, sensor.read, reads)
    except Exception as e:
        return "error: " + why(e)


def adafruit(name, addr, mkw, variant, reads):
    try:
        return _adafruit(name, addr, mkw, variant, reads)
    except Exception as e:
        return "error: " + why(e)


def _adafruit(name, addr, mkw, variant, reads):
    os.environ.setdefault("BLINKA_FORCEBOARD", "GENERIC_LINUX_PC")
    os.environ.setdefault("BLINKA_FORCECHIP", "GENERIC_X86")
    bus = SimBus()
    if name == "TSL2591":
        import adafruit_tsl2591
        from drivers.sim.tsl2591 import TSL2591Model
        bus.attach(addr, TSL2591Model(**mkw))
        sensor = adafruit_tsl2591.TSL2591(bus, addr)
        return per_read(bus, lambda: sensor.lux, reads)
    from adafruit_bme280 import basic
    from drivers.sim.bme280 import BME280Model
    bus.attach(addr, BME280Model(**mkw))
    sensor = basic.Adafruit_BME280_I2C(bus, addr)
    if variant == "x1":
        sensor.overscan_pressure = basic.OVERSCAN_X1
    return per_read(bus, lambda: (sensor.temperature, sensor.humidity, sensor.pressure), reads)


# --- MicroPython: import RAM and allocation per read ------------------------------
# argv: driver module, class, model module, class, address, reads. Any failure
# ends in a traceback, whose last line the parent reports as the reason.
UPY = r"""
import gc, sys
dmod, dcls, mmod, mcls = sys.argv[1:5]
addr, n = int(sys.argv[5]), int(sys.argv[6])
gc.collect(); a0 = gc.mem_alloc()
import drivers.bus
gc.collect(); a1 = gc.mem_alloc()
drv = getattr(__import__(dmod, None, None, [dcls]), dcls)
gc.collect(); a2 = gc.mem_alloc()
from drivers.sim import SimBus
model = getattr(__import__(mmod, None, None, [mcls]), mcls)()
bus = SimBus(trace=True)
bus.attach(addr, model)
d = drv(bus, addr)
d.read()
bus.sleep_ms(6000)
bus.log = []
want = d.read()
reads = [e[2] for e in bus.log if e[1] == "r"]
if not reads:
    raise RuntimeError("read() read nothing from the bus")


class Replay:
    # The recorded answers, copied into the driver's buffers without allocating.
    def __init__(self, reads):
        self.reads = reads
        self.i = 0
        self.n = 0
    def _next(self, buf):
        d = self.reads[self.i]
        self.i = (self.i + 1) % len(self.reads)
        self.n += 1
        for j in range(len(buf)):
            buf[j] = d[j]
    def readfrom_mem_into(self, a, reg, buf, addrsize=8):
        self._next(buf)
    def readfrom_into(self, a, buf, stop=True):
        self._next(buf)
    def writeto(self, a, buf, stop=True):
        return len(buf)
    def writeto_mem(self, a, reg, buf, addrsize=8):
        pass
    def sleep_ms(self, ms):
        pass


# A driver is its own drivers.bus.I2CDevice: every transfer and sleep_ms goes
# through self.bus, so swapping that attribute puts the replay under it all.
if getattr(d, "bus", None) is not bus:
    raise RuntimeError("%s does not keep its bus in .bus: the replay cannot be put under it" % dcls)
rb = Replay(reads)
d.bus = rb
got = d.read()
if rb.n != len(reads):
    raise RuntimeError("read() made %d reads on the replay, %d on the bus" % (rb.n, len(reads)))
if got != want:
    raise RuntimeError("read() on the replay gave %r, on the bus %r" % (got, want))
gc.collect()
best = None
for _ in range(n):
    b0 = gc.mem_alloc()
    d.read()
    b1 = gc.mem_alloc()
    if best is None or b1 - b0 < best:
        best = b1 - b0
print("RESULT", a1 - a0, a2 - a1, best)
"""


def micropython_figures(reads):
    """({chip: (import RAM, alloc per read) or "error: why", "__bus__": bytes}, None),
    or (None, why) when MicroPython cannot run here."""
    from toolchain import micropython as upy
    from toolchain.mpy import compile_tree
    if upy.unavailable_reason():
        return None, upy.unavailable_reason()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        compile_tree(ROOT / "drivers", pathlib.Path(tmp) / "drivers")
        script = pathlib.Path(tmp) / "measure.py"
        script.write_text(UPY)
        for name, dmod, dcls, mmod, mcls, addr, _ in CHIPS:
            try:
                r = upy.run(script, args=(dmod, dcls, mmod, mcls, str(addr), str(reads)),
                            heap="256k", path=[tmp], cwd=tmp, timeout=60)
            except Exception as e:  # TimeoutExpired, the VM missing
                out[name] = "error: " + why(e)
                continue
            line = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")]
            if r.returncode != 0 or not line:
                out[name] = "error: %s" % (last_line(r.stderr, r.stdout)
                                           or "exit %d, no output" % r.returncode)
                continue
            bus_ram, drv_ram, alloc = (int(x) for x in line[0].split()[1:])
            out[name] = (drv_ram, alloc)
            out["__bus__"] = bus_ram
    return out, None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 reads per figure instead of %d" % READS)
    args = ap.parse_args(argv)
    reads = 2 if args.quick else READS
    t0 = time.monotonic()
    missing = []    # (figure, why) of every figure that could not be measured
    rows = []
    for chip in CHIPS:
        name, addr, mkw = chip[0], chip[5], chip[6]
        mine = ours(chip, reads)
        refs = []
        if name == "TSL2591":
            refs.append(("adafruit_tsl2591", adafruit(name, addr, mkw, None, reads)))
        elif name == "BME280":
            refs.append(("adafruit_bme280 defaults", adafruit(name, addr, mkw, None, reads)))
            refs.append(("adafruit_bme280 all x1", adafruit(name, addr, mkw, "x1", reads)))
        rows.append((name, mine, refs))
    upy_fig, upy_why = micropython_figures(reads)

    print("I2C traffic per read() on SimBus (mean of %d steady-state reads)" % reads)
    print("%-9s %8s %8s   %-26s %8s %8s %9s %9s" % ("chip", "trans", "bytes", "reference driver",
                                                      "trans", "bytes", "ratio tr", "ratio by"))
    verdicts = []
    for name, mine, refs in rows:
        if isinstance(mine, str):
            print("%-9s %s" % (name, mine))
            missing.append(("%s traffic" % name, mine))
            continue
        if not refs:
            print("%-9s %8.1f %8.1f   %-26s" % (name, mine[0], mine[1], "-"))
            continue
        for label, ref in refs:
            if isinstance(ref, str):
                print("%-9s %8.1f %8.1f   %-26s %s" % (name, mine[0], mine[1], label, ref))
                missing.append(("%s traffic of %s" % (name, label), ref))
                continue
            rt, rb = mine[0] / ref[0], mine[1] / ref[1]
            verdicts.append((name, label, rt <= 1 and rb <= 1))
            print("%-9s %8.1f %8.1f   %-26s %8.1f %8.1f %9.2f %9.2f"
                  % (name, mine[0], mine[1], label, ref[0], ref[1], rt, rb))
    for name, label, ok in verdicts:
        print("goal ours <= %s for %s: %s" % (label, name, "MET" if ok else "NOT MET"))
    print("(adafruit_bme280 starts a forced measurement per property and polls the status"
          " register every 2 ms of wall-clock time: its counts vary a little with host speed)")
    print()
    if upy_fig is None:
        print("MicroPython figures not measured: %s" % upy_why)
        missing.append(("MicroPython figures", upy_why))
    else:
        print("MicroPython 1.29 unix port (64-bit), drivers as .mpy; best of %d reads" % reads)
        bus_ram = upy_fig.get("__bus__")
        print("  shared bus adapter drivers.bus (with the drivers package) import RAM: %s"
              % ("%d bytes" % bus_ram if bus_ram is not None else "not measured (no chip run completed)"))
        print("%-9s %18s %22s" % ("chip", "import RAM (bytes)", "alloc per read (bytes)"))
        for chip in CHIPS:
            v = upy_fig.get(chip[0])
            if isinstance(v, tuple):
                print("%-9s %18d %22d" % (chip[0], v[0], v[1]))
            else:
                print("%-9s %s" % (chip[0], v))
                missing.append(("%s under MicroPython" % chip[0], v))
    print()
    print("run time %.1f s" % (time.monotonic() - t0))
    if missing:
        print("NOT MEASURED (%d figures):" % len(missing))
        for what, reason in missing:
            print("  %s: %s" % (what, reason))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
