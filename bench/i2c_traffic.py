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
Prints a table; always exits 0 (a benchmark, not a test).

    python bench/i2c_traffic.py
"""
import os
import pathlib
import sys
import tempfile
import time

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


def _load(modname, attr):
    mod = __import__(modname, None, None, [attr])
    return getattr(mod, attr)


def per_read(bus, read):
    """Mean (transactions, bytes) of read() over READS steady-state reads."""
    read()
    tr = by = 0
    for _ in range(READS):
        bus.sleep_ms(SETTLE_MS)
        bus.reset_counters()
        read()
        tr += bus.transactions
        by += bus.bytes_written + bus.bytes_read
    return tr / READS, by / READS


def ours(chip):
    name, dmod, dcls, mmod, mcls, addr, mkw = chip
    try:
        bus = SimBus()
        bus.attach(addr, _load(mmod, mcls)(**mkw))
        sensor = _load(dmod, dcls)(bus, addr)
        return per_read(bus, sensor.read)
    except ImportError as e:
        return "missing (%s)" % e


def adafruit(name, addr, mkw, variant):
    os.environ.setdefault("BLINKA_FORCEBOARD", "GENERIC_LINUX_PC")
    os.environ.setdefault("BLINKA_FORCECHIP", "GENERIC_X86")
    bus = SimBus()
    if name == "TSL2591":
        import adafruit_tsl2591
        from drivers.sim.tsl2591 import TSL2591Model
        bus.attach(addr, TSL2591Model(**mkw))
        sensor = adafruit_tsl2591.TSL2591(bus, addr)
        return per_read(bus, lambda: sensor.lux)
    from adafruit_bme280 import basic
    from drivers.sim.bme280 import BME280Model
    bus.attach(addr, BME280Model(**mkw))
    sensor = basic.Adafruit_BME280_I2C(bus, addr)
    if variant == "x1":
        sensor.overscan_pressure = basic.OVERSCAN_X1
    return per_read(bus, lambda: (sensor.temperature, sensor.humidity, sensor.pressure))


# --- MicroPython: import RAM and allocation per read ------------------------------
UPY = r"""
import gc, sys
name, dmod, dcls, mmod, mcls, addr = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
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
d.read()
reads = [e[2] for e in bus.log if e[1] == "r"]


class Replay:
    # The recorded answers, copied into the driver's buffers without allocating.
    def __init__(self, reads):
        self.reads = reads
        self.i = 0
    def _next(self, buf):
        d = self.reads[self.i]
        self.i = (self.i + 1) % len(self.reads)
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


rb = Replay(reads)
d._dev.bus = rb
d._dev.sleep_ms = rb.sleep_ms
if hasattr(d, "_raw"):
    d._raw = rb
d.read()
gc.collect()
best = None
for _ in range(5):
    b0 = gc.mem_alloc()
    d.read()
    b1 = gc.mem_alloc()
    if best is None or b1 - b0 < best:
        best = b1 - b0
print("RESULT", a1 - a0, a2 - a1, best)
"""


def micropython_figures():
    from neoc import micropython as upy
    from neoc.mpy import compile_tree
    if upy.unavailable_reason():
        return None, upy.unavailable_reason()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        compile_tree(ROOT / "drivers", pathlib.Path(tmp) / "drivers")
        script = pathlib.Path(tmp) / "measure.py"
        script.write_text(UPY)
        for name, dmod, dcls, mmod, mcls, addr, _ in CHIPS:
            if not (ROOT / (dmod.replace(".", "/") + ".py")).exists():
                out[name] = "missing"
                continue
            r = upy.run(script, args=(name, dmod, dcls, mmod, mcls, str(addr)), heap="256k",
                        path=[tmp], cwd=tmp, timeout=60)
            line = [x for x in r.stdout.splitlines() if x.startswith("RESULT")]
            if r.returncode != 0 or not line:
                out[name] = "error: " + (r.stderr.strip().splitlines() or ["?"])[-1]
                continue
            bus_ram, drv_ram, alloc = (int(x) for x in line[0].split()[1:])
            out[name] = (drv_ram, alloc)
            out["__bus__"] = bus_ram
    return out, None


def main():
    t0 = time.monotonic()
    rows = []
    for chip in CHIPS:
        name, addr, mkw = chip[0], chip[5], chip[6]
        mine = ours(chip)
        refs = []
        if name == "TSL2591":
            refs.append(("adafruit_tsl2591", adafruit(name, addr, mkw, None)))
        elif name == "BME280":
            refs.append(("adafruit_bme280 defaults", adafruit(name, addr, mkw, None)))
            refs.append(("adafruit_bme280 all x1", adafruit(name, addr, mkw, "x1")))
        rows.append((name, mine, refs))
    upy_fig, why = micropython_figures()

    print("I2C traffic per read() on SimBus (mean of %d steady-state reads)" % READS)
    print("%-9s %8s %8s   %-26s %8s %8s %9s %9s" % ("chip", "trans", "bytes", "reference driver",
                                                      "trans", "bytes", "ratio tr", "ratio by"))
    verdicts = []
    for name, mine, refs in rows:
        if isinstance(mine, str):
            print("%-9s %s" % (name, mine))
            continue
        if not refs:
            print("%-9s %8.1f %8.1f   %-26s" % (name, mine[0], mine[1], "-"))
            continue
        for label, ref in refs:
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
        print("MicroPython figures skipped: %s" % why)
    else:
        print("MicroPython 1.29 unix port (64-bit), drivers as .mpy")
        print("  shared bus adapter drivers.bus import RAM: %s bytes" % upy_fig.get("__bus__", "?"))
        print("%-9s %18s %22s" % ("chip", "import RAM (bytes)", "alloc per read (bytes)"))
        for chip in CHIPS:
            v = upy_fig.get(chip[0])
            if isinstance(v, tuple):
                print("%-9s %18d %22d" % (chip[0], v[0], v[1]))
            else:
                print("%-9s %s" % (chip[0], v))
    print()
    print("run time %.1f s" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
