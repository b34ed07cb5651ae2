"""Benchmark of the neOSensor firmware's memory, size and boot time (issue 5).

Measures, in one run, for the full firmware and for a baseline (the plainest
script that connects umqtt.simple and publishes one reading):
  * the smallest `-X heapsize` at which the scenario still completes, found by
    bisection (1 KB resolution);
  * peak live heap (gc.mem_alloc after a collection, at checkpoints);
  * code size as .mpy compiled with mpy-cross for xtensa and xtensawin;
  * boot-to-first-publish time (process start -> reading received by an
    observer subscribed on the broker).
Prints figures and ratios (full firmware / baseline); the 24 KB heap target
and the budget heap (DEFAULT_HEAP, the 64-bit equivalent of 24 KB on a 32-bit
board, see bench/heap32.py) are reported as PASS or MISS (a MISS is a
figure, not a failure). Exits 1 when a figure could not be measured (the
firmware fails even with a comfortable heap, a console line the bench reads
is no longer printed, ...), each with its reason, and 2 when it cannot run
here (no MicroPython, no Mosquitto): a broken bench fails
tests/test_bench_quick.py instead of printing holes.

--quick (tests/test_bench_quick.py): 20 readings per trial instead of 200 and
a bisection in 32 KB steps (4 KB for the baseline), same figures, coarser.

Then the loop phase's heap as a 32-bit board counts it (bench/heap32.py: the
same in-VM scenario in the 32-bit WebAssembly port and the 64-bit unix port,
the 24 KB budget line and its 64-bit equivalent). Without Node.js or the npm
package (`make upy32`) that table says so and the rest is unchanged.

Issue 13's figures (sections soak, drain, features; --only picks sections):
  * soak: 20,000 loop turns (sampling cycles) at the default heap, code in
    ROMFS, the board's clock 20 times as fast (virtual_board clock=), turns
    counted by the runner's watchdog feeds; every 1,000 a device status
    order, whose `heap` is the free heap after a collection: printed, with
    the lower of the two halves' lowest figures compared (no growth);
  * drain: 1,000 readings queued on the flash drained after the board's MQTT
    connection, beside 1,000 live QoS 1 publishes of a bare umqtt.simple
    client in the same run (bench/outbox.py's two measures), and the
    readings the ring file keeps per KB;
  * features: the outbox, the portal, OTA/stage and safe mode, each its
    flash (.mpy) and heap (imported from .mpy), the outbox's heap at rest,
    and the loop's smallest free heap over the scenario at the default
    heap with every feature on (goal 6 KB).

Everything is real: the MicroPython 1.29 unix port, a Mosquitto broker with
password authentication and ACL, paho as the observer.

    python bench/firmware.py [--quick] [--only soak,drain,features]
"""
import argparse
import json
import os
import pathlib
import re
import sys
import tempfile
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import heap32  # noqa: E402
from toolchain import micropython as upy  # noqa: E402
from toolchain.mpy import compile_file  # noqa: E402
from provisioning.mosquitto import Acl, Mosquitto, MosquittoError, free_port  # noqa: E402
from tests.support.mqtt_observer import Observer  # noqa: E402
from virtual_board import DEFAULT_HEAP, heap_bytes  # noqa: E402

UMQTT = ROOT / "firmware" / "lib" / "umqtt" / "simple.py"
ARCHS = ("xtensa", "xtensawin")
TARGET_KB = 24
# The virtual board's default heap: the 64-bit equivalent of the 24 KB budget.
BUDGET_KB = heap_bytes(DEFAULT_HEAP) // 1024
# The loop's smallest free heap wanted at the default heap (issue 13).
LOOP_FREE_KB = 6
# Heap for the figures that should not depend on the heap (peak live, boot time).
COMFORTABLE_KB = 128

# The plainest client: connect, publish one reading, disconnect. The gc lines
# only sample the heap (after a collection, so the figure does not depend on
# how much garbage a large heap lets pile up).
BASELINE = """\
import gc, sys
from umqtt.simple import MQTTClient
def live():
    gc.collect()
    return gc.mem_alloc()
peak = live()
host, port, user, password, topic, msg = sys.argv[1:7]
c = MQTTClient("bare", host, port=int(port), user=user, password=password)
c.connect()
peak = max(peak, live())
c.publish(topic, msg)
peak = max(peak, live())
c.disconnect()
print("peak_live", peak, "total", gc.mem_alloc() + gc.mem_free())
"""


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def last_line(*texts):
    """Last non-blank line of a child's output (the MicroPython unix port prints
    its tracebacks on stdout: both streams are looked at, in the order given)."""
    for text in texts:
        lines = [x for x in (text or "").splitlines() if x.strip()]
        if lines:
            return lines[-1].strip()
    return None


# -- broker and observer --------------------------------------------------------
# -- heap bisection ---------------------------------------------------------------
def smallest_heap(trial, lo, hi, step=1, hi_known_ok=False):
    """Smallest heap (KB, multiple of `step` above lo) for which trial(kb) is
    true, assuming more heap never hurts; None when even `hi` fails.
    Returns (kb or None, [(kb, ok, note), ...])."""
    tried = []

    def run(kb):
        ok, note = trial(kb)
        tried.append((kb, ok, note))
        log("  heap %3d KB: %s%s" % (kb, "ok" if ok else "FAIL", " (%s)" % note if note else ""))
        return ok

    if not hi_known_ok and not run(hi):
        return None, tried
    good, bad = hi, lo - step  # invariant: good completes, bad fails (or is below the range)
    while good - bad > step:
        mid = bad + ((good - bad) // step // 2) * step
        if run(mid):
            good = mid
        else:
            bad = mid
    return good, tried


def heap_total(heap):
    """What gc.mem_alloc() + gc.mem_free() reports under -X heapsize=<heap>."""
    out = upy.run(code="import gc;print(gc.mem_alloc()+gc.mem_free())", heap=heap)
    return int(out.stdout.split()[0])


# -- 1. the baseline ----------------------------------------------------------------
class Baseline:
    def __init__(self, work, broker, user, password, observer):
        self.work = pathlib.Path(work)
        self.lib = self.work / "lib"
        compile_file(UMQTT, self.lib / "umqtt" / "simple.mpy", source_name="umqtt/simple.py")
        (self.lib / "umqtt" / "__init__.py").write_text("")
        self.script = self.work / "bare.py"
        self.script.write_text(BASELINE)
        self.broker, self.user, self.password, self.observer = broker, user, password, observer
        self.n = 0
        self.last = None

    def run(self, kb):
        """One run at heap `kb`: (ok, note); self.last keeps its figures."""
        self.n += 1
        topic = "bench/bare/temperature"
        msg = '{"value": %d.125, "value_units": "celsius", "subID": "24", "unitID": "auto_0001"}' % self.n
        start = len(self.observer.messages)
        t0 = time.monotonic()
        try:
            proc = upy.run(self.script, args=(self.broker.host, str(self.broker.port), self.user,
                                              self.password, topic, msg),
                           heap="%dk" % kb, path=[self.lib], cwd=self.work, timeout=20)
        except Exception as e:  # TimeoutExpired
            return False, type(e).__name__
        got = self.observer.poll(lambda t, p: t == topic and p == msg.encode(), 3, start)
        if proc.returncode != 0:
            return False, last_line(proc.stderr, proc.stdout) or "exit %d" % proc.returncode
        if not got:
            return False, "broker never got the reading"
        words = proc.stdout.split()
        self.last = {"peak_live": int(words[1]), "total": int(words[3]),
                     "first_publish_s": got[0].time - t0}
        return True, ""


def measure_baseline(rig, mode):
    log("baseline: bare umqtt.simple publish (.mpy)")
    bare = Baseline(rig.work / "bare", rig.broker, "bare", rig.passwords["bare"], rig.observer)
    kb, tried = smallest_heap(bare.run, 4, 128, mode["base_step"])
    res = {"min_heap_kb": kb, "tried": tried}
    if kb is not None:
        # Figures at the same comfortable heap as the firmware's, three runs.
        runs = []
        for _ in range(3):
            ok, note = bare.run(COMFORTABLE_KB)
            if ok:
                runs.append(dict(bare.last))
        if runs:
            res["peak_live"] = max(r["peak_live"] for r in runs)
            res["first_publish_s"] = min(r["first_publish_s"] for r in runs)
    # Same source names as the firmware's deploy, so the same bytes for umqtt.
    res["sizes"] = {arch: mpy_sizes([(UMQTT, "lib/umqtt/simple.py"), (bare.script, "main.py")], arch,
                                    rig.work / ("bare-" + arch))
                    for arch in ARCHS}
    return res


# -- 2. code size -----------------------------------------------------------------
def mpy_sizes(files, arch, out_dir):
    """{name on the board: bytes} with every file compiled to .mpy for `arch`."""
    sizes = {}
    for src, name in files:
        dest = pathlib.Path(out_dir) / (name[:-3] + ".mpy")
        compile_file(src, dest, arch=arch, source_name=name)
        sizes[name[:-3] + ".mpy"] = dest.stat().st_size
    return sizes


def firmware_sizes(work):
    """{arch: {file on the flash: bytes}} for what toolchain.deploy.deploy
    puts on a board (firmware/, neocampus/, drivers/ without sim). boot.py and
    main.py stay source on the board; they are counted compiled too, as the
    bare script is, so that both sides are measured the same way."""
    from toolchain.deploy import deploy
    out = {}
    for arch in ARCHS:
        flash = pathlib.Path(work) / ("flash-" + arch)
        sizes = {}
        for f in deploy(flash, arch=arch):
            name = f.relative_to(flash).as_posix()
            if f.suffix == ".mpy":
                sizes[name] = f.stat().st_size
            elif f.suffix == ".py":
                sizes.update(mpy_sizes([(f, name)], arch, pathlib.Path(work) / ("src-" + arch)))
        out[arch] = sizes
    # No @native/@viper code: the arch only matters for machine code, so the
    # files should come out the same; say so when they do.
    a, b = (pathlib.Path(work) / ("flash-" + x) for x in ARCHS)
    out["identical"] = all((a / n).read_bytes() == (b / n).read_bytes()
                           for n in out[ARCHS[0]] if (a / n).exists() and (b / n).exists())
    return out


# -- 3. the full scenario ----------------------------------------------------------
MAC = "aa:bb:cc:00:5e:11"
LOCATION = ("bench", "lab")
MODULES = ("temperature", "humidity", "luminosity")
# MCP9808 and SHT3x feed temperature, SHT3x humidity, TSL2561 luminosity:
# each round of acquire orders gives 4 readings. The values drift slowly, as
# in a room: a fast drift would keep the policy's stable window from closing
# and make the boot-to-first-publish time depend on the drift's phase.
CHIPS = ["mcp9808@0x18:temperature=19..24/3600s", "sht3x@0x44:temperature=20..23/2700s,humidity=40..55/3000s",
         "tsl2561@0x39:lux=200..600/1800s"]
# Per run mode: readings per firmware trial, bisection steps (KB), time budget (s), soak turns,
# readings drained.
MODES = {"full": {"publishes": 200, "base_step": 1, "full_step": 1, "budget": 540.0, "soak": 20000,
                  "drain": 1000},
         "quick": {"publishes": 20, "base_step": 4, "full_step": 32, "budget": 240.0, "soak": 1000,
                   "drain": 100}}
FREQUENCY = 45          # the frequency order's value (s), checked in the module's status
# Console lines of the boot whose times are shown (label, regex).
MILESTONES = (("wifi", r"wifi: connected"), ("handshake", r"sensocampus: config"),
              ("i2c scan", r"^(\[[^]]*\] )?i2c: "), ("mqtt", r"mqtt: connected"))
BAD_LINES = ("MemoryError", "crashed", "safe mode", "Traceback")
# The set-up phase's last console line (firmware/neosensor/setup.py): the heap
# free just before its soft reset into the loop, with no collection first, so
# its garbage counts as used. The loop phase's heap is in the device status.
SETUP_FREE = re.compile(r"setup: done, (\d+) bytes free")


class Full:
    """The firmware on the virtual board: Wi-Fi, sensOCampus handshake against
    the stub, MQTT to the rig's Mosquitto (the device's account and ACL from
    the stub's own rules), three modules, `publishes` readings, commands."""

    def __init__(self, rig, stub, publishes, trial_timeout=90.0):
        from provisioning.acl import device_rules, location_topic
        from toolchain.deploy import deploy, write_config
        import requests
        self.rig, self.stub, self.trial_timeout = rig, stub, trial_timeout
        self.publishes = publishes
        self.base = location_topic(*LOCATION)
        stub.admin.add_device(MAC, location=LOCATION, server=rig.broker.host, port=rig.broker.port,
                              modules=[{"module": m, "frequency": 60} for m in MODULES])
        # The device's first handshake hands out its password once; taken here
        # and pre-stored on every trial's flash, the board reuses it (as after
        # its first boot) and the broker gets the same account.
        cred = requests.get(stub.url + "/device/credentials", params={"mac": MAC}, timeout=10).json()
        self.creds = {"mqtt_login": cred["login"], "mqtt_passwd": cred["password"],
                      "mqtt_server": rig.broker.host, "mqtt_port": rig.broker.port}
        rig.broker.users[cred["login"]] = cred["password"]
        for user, access, pattern in device_rules(cred["login"], self.base):
            rig.broker.acl.allow(user, access, pattern)
        rig.broker.reload()
        time.sleep(0.5)
        self.template = rig.work / "flash-template"
        deploy(self.template)
        write_config(self.template, stub.url, ("neocampus", "neocampus"))
        self.n = self.orders = 0
        self.rom_template = self.last = None

    def _rom_template(self):
        """Flash for the ROMFS variant, as the virtual board deploys by default
        (toolchain.deploy, mode "romfs"): boot.py, main.py, config.json and
        /romfs.img, which the board maps as flash, outside the firmware's heap."""
        from toolchain.deploy import ROMFS_IMAGE, deploy, write_config
        if self.rom_template is None:
            t = self.rig.work / "flash-rom-template"
            deploy(t, mode="romfs")
            write_config(t, self.stub.url, ("neocampus", "neocampus"))
            self.image_size = (t / ROMFS_IMAGE).stat().st_size
            self.rom_template = t
        return self.rom_template

    def _is_reading(self, topic, payload):
        return (topic.startswith(self.base + "/") and topic.count("/") == 2
                and topic.rsplit("/", 1)[1] in MODULES and b'"value"' in payload)

    def _order(self, module, order, value=None, dest="all"):
        cmd = {"dest": MAC if module == "device" else dest, "order": order}
        if value is not None:
            cmd["value"] = value
        self.orders += 1
        self.rig.observer.publish("%s/%s/command" % (self.base, module), cmd, qos=0)

    def run(self, kb, rom=False):
        """One boot with `kb` KB of heap for the firmware, driven through the
        scenario: (ok, note). rom: the code in a ROMFS image (the virtual
        board maps it outside those `kb`, as a board's flash)."""
        from virtual_board import VirtualBoard
        import shutil
        self.n += 1
        flash = self.rig.work / ("flash-%d" % self.n)
        heap = "%dk" % kb
        shutil.copytree(self._rom_template() if rom else self.template, flash)
        (flash / "sensocampus.json").write_text(json.dumps(self.creds))
        obs = self.rig.observer
        start = len(obs.messages)
        self.orders = 0
        boot = []
        self.stamps = stamps = []

        def echo(text):
            now = time.monotonic()
            if not boot and "--- boot" in text:
                boot.append(now)
            stamps.append((now, text))

        board = VirtualBoard(MAC, server=self.stub.url, flash_dir=flash, heap=heap, chips=CHIPS,
                             blank=True, echo=echo)
        try:
            return self._drive(board, kb, start, boot)
        finally:
            board.stop()
            shutil.rmtree(flash, ignore_errors=True)

    def _failed(self, board):
        """Why this boot failed so far, or None: a reset, a crash, a MemoryError
        even when caught (the note is the most telling console line)."""
        lines = list(board.lines)
        # The set-up phase ends in a soft reset into the loop phase: that boot is planned.
        resets = [c for c in board.boots[1:] if c != "soft"]
        if not (resets or any(b in line for line in lines for b in BAD_LINES)):
            return None
        for keys in (("MemoryError",), ("Error",), BAD_LINES):
            for i, line in enumerate(lines):
                if any(k in line for k in keys):
                    where = [x for x in lines[max(0, i - 3):i] if 'File "' in x]
                    at = " at " + where[-1].split('File ', 1)[1].strip() if where else ""
                    return line.split("] ", 1)[-1].strip()[:100] + at
        return "reset (%s)" % (board.exits[0][1] if board.exits else "?")

    def _drive(self, board, kb, start, boot):
        obs = self.rig.observer
        t_start = time.monotonic()
        deadline = t_start + self.trial_timeout
        board.start()
        # Boot to first reading, with no order sent: the firmware's own fast start.
        first = []
        while not first:
            bad = self._failed(board)
            if bad:
                return False, "before the first publish: " + bad
            if time.monotonic() > deadline:
                return False, "no reading within %.0f s" % self.trial_timeout
            first = obs.poll(self._is_reading, 0.5, start)
        t_boot = boot[0] if boot else t_start
        figures = {"first_publish_s": first[0].time - t_boot, "heap_free": [], "timeline": []}
        for label, pattern in MILESTONES:
            for t, text in list(self.stamps):
                if re.search(pattern, text):
                    figures["timeline"].append((label, t - t_boot))
                    break
        figures["timeline"].append(("first reading received", figures["first_publish_s"]))
        self._order("temperature", "frequency", FREQUENCY)
        self._order("luminosity", "status")
        rounds = 0
        readings = 0
        while True:
            readings = sum(1 for m in obs.messages[start:] if self._is_reading(m[1], m[2]))
            if readings >= self.publishes:
                break
            bad = self._failed(board)
            if bad:
                return False, "after %d readings: %s" % (readings, bad)
            if time.monotonic() > deadline:
                return False, "%d readings in %.0f s" % (readings, self.trial_timeout)
            if rounds % 10 == 0:
                self._order("device", "status")
            mark = len(obs.messages)
            for m in MODULES:
                self._order(m, "acquire")
            rounds += 1
            # The next round once this one's 4 readings are in (or 3 s passed).
            obs.poll(self._is_reading, 3.0, mark, count=4)
        self._order("device", "status")
        time.sleep(0.5)
        bad = self._failed(board)
        if bad:
            return False, "after %d readings: %s" % (readings, bad)
        msgs = obs.messages[start:]
        statuses = {}
        for t, topic, payload in msgs:
            mod = topic.rsplit("/", 1)[1]
            if topic.count("/") == 2 and b'"value"' not in payload and mod in MODULES + ("device",):
                try:
                    statuses.setdefault(mod, []).append(json.loads(payload))
                except ValueError:
                    pass
        if not any(st.get("frequency") == FREQUENCY for st in statuses.get("temperature", [])):
            return False, "frequency order not obeyed (no temperature status with %d s)" % FREQUENCY
        if not statuses.get("luminosity"):
            return False, "status order on luminosity not answered"
        device = statuses.get("device", [])
        if len(device) < 1 + rounds // 10:
            return False, "device status orders not all answered (%d statuses)" % len(device)
        # The peak live heap is read from this field (gc.mem_free() after a
        # gc.collect(), firmware/neosensor/app.py): no field, no figure.
        heaps = [st["heap"] for st in device if isinstance(st.get("heap"), int)]
        for st in device:
            if not isinstance(st.get("heap"), int):
                return False, ("a device status without an integer `heap` field (fields: %s): "
                               "the peak live heap cannot be read" % ", ".join(sorted(st)))
        setup = [int(m.group(1)) for m in map(SETUP_FREE.search, board.lines) if m]
        figures.update(heap_free=heaps, setup_free=min(setup) if setup else None,
                       readings=readings, rounds=rounds,
                       orders=self.orders, seconds=time.monotonic() - t_start)
        self.last = figures
        return True, "%d readings, %d orders in %.1f s" % (readings, figures["orders"], figures["seconds"])


FAKES_PROBE = """\
import gc, sys
gc.collect()
a = gc.mem_alloc()
import vboard, machine, network, ntptime
gc.collect()
print("fakes", gc.mem_alloc() - a)
for name in sys.argv[1:]:
    gc.collect()
    a = gc.mem_alloc()
    try:
        __import__(name)
    except Exception as e:
        print(name, "error", repr(e).replace(" ", "_")[:60])
        continue
    gc.collect()
    print(name, gc.mem_alloc() - a)
"""
# Import order of the heap breakdown: the way the firmware loads them
# (libraries before the app). umqtt.robust and the CPython-only bus wrappers
# are on the flash but never imported by the board.
SKIP_MODULES = ("umqtt.robust", "drivers._busio", "drivers._smbus", "drivers.sim")
ORDER = ("umqtt.simple", "neocampus.ids", "neocampus.policy", "neocampus.payload", "neocampus.commands",
         "neocampus.module", "neocampus.sensocampus", "drivers.crc", "drivers.bus", "drivers.scan",
         "drivers.mcp9808", "drivers.sht3x", "drivers.tsl2561")
# Drivers on the flash for chips this scenario's board does not carry, and
# the safe mode: on the flash, not loaded in this scenario.
UNUSED = "unused:"


def flash_modules(flash):
    names = []
    for f in sorted(pathlib.Path(flash).rglob("*.mpy")):
        rel = f.relative_to(flash).with_suffix("")
        parts = rel.parts[1:] if rel.parts[0] == "lib" else rel.parts
        name = ".".join(p for p in parts if p != "__init__")
        if name and "." in name and not name.startswith(SKIP_MODULES):
            names.append(name)

    def key(n):
        if n in ORDER:
            return (0, ORDER.index(n), n)
        if n.startswith("drivers.") or n == "neosensor.safe":
            return (3, 0, n)
        return (1 if n != "neosensor.app" else 2, 0, n)
    return sorted(names, key=key)


def heap_breakdown(work, flash, names=None, probe="fakes-probe"):
    """Heap the virtual board's peripheral fakes (machine, network, ntptime and
    their link to the runner) hold -- on a real board these are in ROM/flash --
    then the live heap each firmware module adds when imported, in load order.
    The fakes connect to the runner at import: a listening socket stands in."""
    import socket
    from virtual_board import BOARDS
    from virtual_board.rom import build_virtual_lib
    work = pathlib.Path(work) / probe
    vlib = build_virtual_lib(work / "vlib")
    names = flash_modules(flash) if names is None else names
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        desc = dict(BOARDS["esp8266"], mac=MAC, board="esp8266", wifi={}, cause="power",
                    port=srv.getsockname()[1])
        (work / "board.json").write_text(json.dumps(desc))
        # Every module of the flash at once, the unused drivers and the set-up's too: more than
        # a scenario's comfortable heap.
        out = upy.run(code=FAKES_PROBE, args=names, heap="%dk" % (2 * COMFORTABLE_KB),
                      path=[vlib, flash, pathlib.Path(flash) / "lib"], cwd=work,
                      env=dict(os.environ, NEOC_VBOARD=str(work)))
    res = []
    for line in out.stdout.splitlines():
        words = line.split()
        if not words:
            continue
        name = words[0]
        if (name.startswith("drivers.") and name not in ORDER) or name == "neosensor.safe":
            name = UNUSED + name
        if len(words) == 2 and words[1].lstrip("-").isdigit():
            res.append((name, int(words[1])))
        elif len(words) == 3:
            res.append((name, words[2]))
    if not res:
        reason = "probe printed nothing it could parse: %s" % (
            last_line(out.stderr, out.stdout) or "exit %d" % out.returncode)
        log("heap breakdown: " + reason)
        return res, reason
    return res, None


def measure_variant(full, rom, mode, deadline):
    """Comfortable run (figures), bisection, then the explicit 24 KB run."""
    comfy = COMFORTABLE_KB

    def trial(kb):
        if time.monotonic() > deadline:
            return False, "bench time budget spent: counted as a failure"
        return full.run(kb, rom=rom)

    res = {}
    ok, note = full.run(comfy, rom=rom)
    log("  heap %3d KB: %s (%s)" % (comfy, "ok" if ok else "FAIL", note))
    if not ok:
        res["why"] = "did not complete even at %d KB: %s" % (comfy, note)
        return res
    # The virtual board trims the VM's heap to what a bare VM with `comfy`
    # KB has, whatever its images take: the same total for both variants.
    total = heap_total("%dk" % comfy)
    res["peak_live"] = total - min(full.last["heap_free"])
    if full.last["setup_free"] is not None:
        res["setup_used"] = total - full.last["setup_free"]
    res["first_publish_s"] = full.last["first_publish_s"]
    res["timeline"] = full.last["timeline"]
    res["run"] = note
    # Console lines this bench reads that the firmware no longer prints: the
    # figures they give are missing, and the bench says so (exit 1).
    res["missing"] = []
    if full.last["setup_free"] is None:
        res["missing"].append(("heap used at the end of set-up",
                               "no console line matched %r" % SETUP_FREE.pattern))
    seen = [label for label, _ in res["timeline"]]
    for label, pattern in MILESTONES:
        if label not in seen:
            res["missing"].append(("boot timeline, %s" % label, "no console line matched %r" % pattern))
    kb, tried = smallest_heap(trial, 8, comfy, mode["full_step"], hi_known_ok=True)
    tried.insert(0, (comfy, True, note))
    res["min_heap_kb"], res["tried"] = kb, tried
    # Each checked size is run once more if the bisection did not try it:
    # fragmentation makes the pass/fail line ragged around the minimum.
    checks = []
    for size in (TARGET_KB, BUDGET_KB):
        found = [t for t in tried if t[0] == size]
        if not found:
            ok, note = trial(size)
            log("  heap %3d KB: %s%s" % (size, "ok" if ok else "FAIL", " (%s)" % note if note else ""))
            found = [(size, ok, note)]
        checks.append(found[0])
    res["target_run"], res["budget_run"] = checks
    # The loop's room at the default heap: the smallest free heap the device
    # statuses report over one more run there (the bisection's run, if any,
    # left no figures behind).
    ok, note = trial(BUDGET_KB)
    if ok:
        res["budget_free"] = (min(full.last["heap_free"]), len(full.last["heap_free"]))
    else:
        res["budget_free_why"] = note
    if any("budget" in t[2] for t in tried + checks):
        res["budget_hit"] = True
    return res


def measure_full(rig, mode, budget_s):
    """{"mpy": figures with the code loaded from .mpy files into the heap,
    "rom": the same with the code in a ROMFS image, as deployed by default}."""
    from provisioning.stub_process import StubServer
    t0 = time.monotonic()
    with StubServer(rig.work / "stub") as stub:
        full = Full(rig, stub, mode["publishes"])
        log("full firmware on the virtual board (MCP9808 + SHT3x + TSL2561), %d readings + orders, "
            "code as .mpy files (loaded into the heap)" % full.publishes)
        res = measure_variant(full, False, mode, t0 + 0.55 * budget_s)
        if "run" in res:
            res["breakdown"], res["breakdown_why"] = heap_breakdown(rig.work, full.template)
            res["fakes"] = dict(res["breakdown"]).get("fakes")
        log("the same with the code in a ROMFS image, run in place")
        try:
            full._rom_template()
            rom = measure_variant(full, True, mode, t0 + budget_s)
            rom["image"] = full.image_size
        except Exception as e:  # e.g. no VfsRom in this MicroPython build
            rom = {"why": "could not be run (%s)" % why(e)}
        res["rom"] = rom
    return res


# -- 5. drain and live publishes, what each feature of issue 13 takes -----------------
def drain_vs_live(rig, n):
    """bench/outbox.py's drain (n readings queued on the flash by the outbox's
    own put(), then the board's MQTT connection: the same path as a
    reconnection, the queue first) beside n live QoS 1 publishes of the same
    payloads by a bare umqtt.simple client, same broker, same run; and the
    readings the ring file keeps per KB, from its size on the flash."""
    from bench import outbox as ob
    work = rig.work / "drain"
    work.mkdir()
    try:
        took, _ = ob.drain(work, rig.broker, n)
        live = ob.bare(work, rig.broker, n)
    except ob.NotMeasured as e:
        return {"why": str(e)}
    # The file grows to the ring's size as records are written: the fill's n + 1 puts are in it.
    ring = (work / "flash" / "outbox.bin").stat().st_size
    return {"n": n, "drain_s": took, "live_s": live, "records": n + 1, "ring_bytes": ring}


def print_drain(res):
    print()
    if res.get("why"):
        print("DRAIN  not measured (%s)" % res["why"])
        return
    n = res["n"]
    print("DRAIN  %d queued readings sent after the board's MQTT connection: %.2f s (%.0f/s); the same %d as live "
          "QoS 1 publishes of a bare umqtt.simple client, same broker, same run: %.2f s (%.0f/s); ratio %.2f"
          % (n, res["drain_s"], n / res["drain_s"], n, res["live_s"], n / res["live_s"],
             res["drain_s"] / res["live_s"]))
    print("QUEUE  %d readings written make a %d B ring file: %.2f readings kept per KB of queue file"
          % (res["records"], res["ring_bytes"], res["records"] * 1024.0 / res["ring_bytes"]))


# Issue 13's features: (name, modules, where they run). Imported in this order, each charged for
# what it imports first (the store is shared: charged to the package's row).
FEATURES = (("outbox", ("neosensor.outbox",), "loop phase (resident)"),
            ("portal", ("neosensor.portal",), "set-up phase, safe mode"),
            ("OTA + stage", ("neosensor.stage", "neosensor.ota"), "set-up phase (and the REPL)"),
            ("safe mode", ("neosensor.safe",), "safe mode only"))
SHARED = ("neosensor", "neosensor.store")


def features(work, sizes):
    """Per feature: flash (.mpy, xtensa) and the heap its modules take once
    imported from .mpy files (64-bit, the fakes loaded first); the outbox's
    heap at rest once open (bench/outbox.py's probe)."""
    from bench import outbox as ob
    from toolchain.deploy import deploy
    flash = pathlib.Path(work) / "features-flash"
    deploy(flash)
    names = list(SHARED) + [m for _, mods, _ in FEATURES for m in mods]
    got, why_not = heap_breakdown(work, flash, names, probe="features-probe")
    heap = {n[len(UNUSED):] if n.startswith(UNUSED) else n: v for n, v in got}
    res = {"rows": [], "why": why_not, "shared": [(n, heap.get(n)) for n in SHARED]}
    arch = sizes.get(ARCHS[0], {}) if sizes else {}
    for name, mods, where in FEATURES:
        res["rows"].append((name, where, sum(arch.get(m.replace(".", "/") + ".mpy", 0) for m in mods),
                            sum(heap.get(m, 0) for m in mods if isinstance(heap.get(m), int)),
                            [m for m in mods if not isinstance(heap.get(m), int)]))
    try:
        held = ob._vm(ob.HELD, ob._lib(pathlib.Path(work) / "outbox-held"), work, (), "outbox at rest")
        res["outbox_rest"] = [int(x) for x in held.split("HELD", 1)[1].split()]
    except ob.NotMeasured as e:
        res["why"] = res["why"] or str(e)
    return res


def print_features(res, full):
    print()
    print("Issue 13's features: flash as .mpy (%s) and heap once imported from .mpy (64-bit unix port)" % ARCHS[0])
    print("  %-12s %-30s %10s %12s" % ("feature", "runs in", "flash", "heap"))
    shared = [v for n, v in res.get("shared", ()) if isinstance(v, int)]
    if shared:
        print("  %-12s %-30s %10s %10d B" % ("(shared)", "neosensor package + store.py", "-", sum(shared)))
    for name, where, flash, heap, missing in res["rows"]:
        print("  %-12s %-30s %8d B %10s" % (name, where, flash, "n/a (%s)" % ", ".join(missing) if missing
                                             else "%d B" % heap))
    if res.get("outbox_rest"):
        code, rest = res["outbox_rest"]
        print("  outbox in the loop: %d B at rest once open (buffer, file, views) on top of its code (%d B with the "
              "package and store.py, from .mpy files;" % (rest, code))
        print("  from ROMFS, code costs less: the heap32 table's loop figures include the outbox): the loop's only "
              "resident objects of issue 13")
    print("  The portal, OTA/stage and safe mode run on the set-up phase's heap (or safe mode's) and are unloaded")
    print("  before its soft reset: the loop phase never imports them (the `upgrade` order only saves a URL).")
    if res.get("why"):
        print("  not measured: %s" % res["why"])
    rom = (full or {}).get("rom") or {}
    if "budget_free" in rom:
        free, n = rom["budget_free"]
        print("LOOP   with every feature on (outbox, update check at boot), code in ROMFS, default heap %d KB: "
              "smallest free heap %s over %d device statuses (goal %d KB: %s)"
              % (BUDGET_KB, kb(free), n, LOOP_FREE_KB, "PASS" if free >= LOOP_FREE_KB * 1024 else "MISS"))


# -- 4. the soak -------------------------------------------------------------------
SOAK_MAC = "aa:bb:cc:00:50:a4"
SOAK_BASE = "TestTopic/neOSensor_50a4"
# The board's clock runs this many times as fast (virtual_board clock=, firmware/virtual/vclock.py):
# its 200 ms naps between turns take 10 ms, its modules' 60 s periods 3 s.
SOAK_CLOCK = 20
SOAK_EVERY = 1000


def soak(rig, cycles, every=SOAK_EVERY):
    """The firmware at the default heap, code in ROMFS, three chips (sandbox
    mode: a module per quantity, on the rig's Mosquitto), for `cycles` loop
    turns at an accelerated clock. Every `every` turns (the runner counts the
    watchdog feeds: one a turn, one more per reading the outbox sends) a
    device status order; its `heap` field is gc.mem_free() after a
    gc.collect(). Returns {"samples": [(turns, free)], ...} or {"why": ...}."""
    from virtual_board import VirtualBoard
    obs = rig.observer
    board = VirtualBoard(SOAK_MAC, wifi=("campus", "secret"), sandbox=True, chips=CHIPS, heap=DEFAULT_HEAP,
                         echo=False, broker=(rig.broker.host, rig.broker.port), clock=SOAK_CLOCK,
                         flash_dir=rig.work / "soak-flash")
    status = SOAK_BASE + "/device"

    def turns():
        sent = sum(1 for m in obs.messages[start:] if m.topic.startswith(SOAK_BASE + "/") and b'"value"' in m.payload)
        return board.feeds - feeds0 - sent, sent

    start = len(obs.messages)
    t0 = time.monotonic()
    board.start()
    res = {"samples": [], "clock": SOAK_CLOCK, "heap": DEFAULT_HEAP}
    try:
        board.wait_for(r"^mqtt: connected", 120)
        feeds0 = board.feeds
        t_loop = time.monotonic()
        nxt = 0
        deadline = t_loop + max(600.0, cycles * 0.05)
        while True:
            n, sent = turns()
            bad = [x for x in board.lines if any(b in x for b in BAD_LINES) or "out of memory" in x]
            if bad or len(board.boots) > 2:
                res["why"] = "after %d turns: %s" % (n, bad[0] if bad else "a reset (%s)" % board.boots[2:])
                return res
            if n >= nxt:
                mark = len(obs.messages)
                rig.observer.publish(status + "/command", {"dest": "all", "order": "status"}, qos=0)
                got = obs.poll(lambda t, p: t == status and b'"heap"' in p, 10, mark)
                if not got:
                    res["why"] = "no device status within 10 s of the order at %d turns" % n
                    return res
                res["samples"].append((n, json.loads(got[0].payload)["heap"]))
                if n >= cycles:
                    break
                nxt += every
            if time.monotonic() > deadline:
                res["why"] = "%d of %d turns in %.0f s" % (n, cycles, time.monotonic() - t_loop)
                return res
            time.sleep(0.05)
        res.update(seconds=time.monotonic() - t_loop, readings=sent, boot_s=t_loop - t0)
        return res
    finally:
        board.stop()


def print_soak(res, cycles):
    print()
    if not res.get("samples") or res.get("why"):
        print("SOAK   %d sampling cycles: not measured (%s)" % (cycles, res.get("why", "no sample")))
        return
    s = res["samples"]
    print("Soak: %d loop turns (sampling cycles) of the firmware at the default heap (%s, code in ROMFS), clock x%d "
          "(turns counted by the runner's watchdog feeds), %d readings sent, %.0f s"
          % (s[-1][0], res["heap"], res["clock"], res["readings"], res["seconds"]))
    print("  free heap after gc.collect (device status `heap`) every %d turns:" % SOAK_EVERY)
    items = ["%d:%d" % x for x in s]
    for i in range(0, len(items), 8):
        print("    " + "  ".join(items[i:i + 8]))
    # Growth: the later half's lowest free heap against the earlier half's (past the first sample,
    # taken before the first turns' windows filled).
    half = max(1, len(s) // 2)
    early = min(f for _, f in s[1:half + 1] or s[:1])
    late = min(f for _, f in s[half:])
    print("SOAK   %d cycles at %s: free heap first %d B, lowest %d B, last %d B; lowest of the later half %d B "
          "vs the earlier half %d B: %s" % (s[-1][0], res["heap"], s[0][1], min(f for _, f in s), s[-1][1], late,
                                           early, "no growth (PASS)" if late >= early - 256 else
                                           "GROWTH of %d B (MISS)" % (early - late)))


# -- the rig ------------------------------------------------------------------------
class Rig:
    """One Mosquitto for the whole run (users: the bare client, the observer)."""

    def __init__(self, work):
        self.work = pathlib.Path(work)
        # "test": the sandbox account of the soak's board.
        self.passwords = {"bare": "bare-pw", "observer": "observer-pw", "test": "test"}
        acl = (Acl().allow("bare", "write", "bench/bare/+").allow("observer", "readwrite", "#")
               .allow("test", "readwrite", "TestTopic/#"))
        self.broker = Mosquitto(self.work / "mosquitto", port=free_port(), users=self.passwords, acl=acl)
        self.broker.start()
        self.observer = Observer(self.broker.host, self.broker.port, "observer", self.passwords["observer"],
                                 client_id="bench-observer", clock=time.monotonic)
        try:
            self.observer.subscribe("#", qos=0)
        except AssertionError as e:  # refused, or no SUBACK: this machine cannot run the bench
            raise RuntimeError("observer: %s" % e)

    def close(self):
        self.observer.close()
        self.broker.stop()


# -- report ---------------------------------------------------------------------------
def kb(n):
    return "%.1f KB" % (n / 1024.0)


def ratio(a, b):
    return "%.1fx" % (a / float(b)) if a and b else "-"


def print_sizes(sizes):
    print()
    print("Firmware files as .mpy (bytes)      %s" % "  ".join("%9s" % a for a in ARCHS))
    names = sorted(sizes[ARCHS[0]])
    for name in names:
        print("  %-34s %s" % (name, "  ".join("%9d" % sizes[a].get(name, 0) for a in ARCHS)))
    groups = {}
    for name in names:
        head = name.split("/")[1] if name.startswith("lib/") else name.split("/")[0]
        groups.setdefault(head if "/" in name else "boot.py+main.py", []).append(name)
    for g, members in sorted(groups.items()):
        print("  %-34s %s" % ("= " + g, "  ".join("%9d" % sum(sizes[a][n] for n in members) for a in ARCHS)))
    print("  %-34s %s" % ("= TOTAL", "  ".join("%9d" % sum(sizes[a].values()) for a in ARCHS)))


HEAD = "  %-36s %10s %14s %7s %14s %7s"


def row(label, bare, full, rom, fmt):
    cells = [fmt(v) if v is not None else "n/a" for v in (bare, full, rom)]
    r = [ratio(v, bare) if bare is not None and v is not None else "-" for v in (full, rom)]
    print(HEAD % (label, cells[0], cells[1], r[0], cells[2], r[1]))


def verdict(res, key="target_run"):
    run = res.get(key)
    if run is None:
        return "MISS (the full scenario %s)" % res.get("why", "was not measured")
    if run[1]:
        return "PASS (the full scenario completed with %d KB)" % run[0]
    return "MISS (at %d KB: %s)" % (run[0], run[2])


def report(base, sizes, full, mode):
    full = full or {}
    rom = full.get("rom") or {}
    print()
    print("== bench/firmware.py (issue 5): bare umqtt publish vs full neOSensor firmware ==")
    print("MicroPython 1.29 unix port (64-bit), heap set by -X heapsize; broker: Mosquitto with passwords")
    if sizes:
        print_sizes(sizes)
    print()
    print(HEAD % ("figure", "baseline", "full (.mpy)", "ratio", "full (ROMFS)", "ratio"))
    row("smallest heap that completes", base.get("min_heap_kb"), full.get("min_heap_kb"),
        rom.get("min_heap_kb"), lambda v: "%d KB" % v)
    row("peak live heap (after gc.collect)", base.get("peak_live"), full.get("peak_live"),
        rom.get("peak_live"), kb)
    row("heap used at set-up's end (no collect)", None, full.get("setup_used"), rom.get("setup_used"), kb)
    for arch in ARCHS:
        f = sum(sizes[arch].values()) if sizes else None
        row(".mpy size, %s" % arch, sum(base["sizes"][arch].values()), f, None, kb)
    fakes = full.get("fakes")
    if fakes:
        print(HEAD % ("  of which virtual-board fakes*", "0", kb(fakes), "", kb(fakes), ""))
    row("boot -> first publish received", base.get("first_publish_s"), full.get("first_publish_s"),
        rom.get("first_publish_s"), lambda v: "%.3f s" % v)
    print()
    print("full (.mpy): the code as .mpy files on the flash, which the VM loads into its heap on import")
    print("  (the --deploy mpy of the virtual board, for a board without a ROMFS partition).")
    print("full (ROMFS): as the virtual board deploys by default (toolchain.deploy, mode romfs): the same")
    print("  .mpy files in /romfs.img (mpremote romfs build), mapped as flash outside the heap under test")
    print("  and run in place, as code in flash runs on a board%s. Frozen code would save more: its"
          % (" (%d B image)" % rom["image"] if rom.get("image") else ""))
    print("  qstrs and constants would not be copied into RAM either.")
    print("Peak live heap: heap total minus the smallest free heap seen after a gc.collect() -- at the")
    print("  bare script's checkpoints; for the firmware, the loop phase's device status `heap` field")
    print("  (status order every 10 rounds). Sampled: the smallest heap is the bound. The set-up phase")
    print("  (before its soft reset into the loop) is seen only in its last console line, 'setup: done,")
    print("  N bytes free', taken without a collection: heap used there counts its garbage too.")
    if mode["full_step"] > 1:
        print("--quick: smallest heaps bisected in %d KB steps (baseline %d KB), %d readings per trial:"
              % (mode["full_step"], mode["base_step"], mode["publishes"]))
        print("  upper bounds, coarser than a full run's.")
    print("Completes = exit 0 and the broker got the reading (baseline); for the firmware: one boot,")
    print("no reset, no MemoryError (even caught), %d readings received by the observer and the"
          % mode["publishes"])
    print("frequency/status orders answered, within the trial's time limit.")
    if sizes and sizes.get("identical"):
        print(".mpy: bytecode only (no @native/@viper): the xtensa and xtensawin files are byte-identical.")
    if fakes:
        print("* machine/network/ntptime fakes of the virtual board, loaded into the heap before boot.py in")
        print("  both columns (probe: imported alone); on an ESP8266 they are C modules in flash.")
    if full.get("breakdown"):
        print()
        print("Where the .mpy firmware's heap goes at rest (live bytes each import adds, in load order;")
        print("a module is charged for what it imports first, and for a new qstr pool chunk when it")
        print("crosses one, so single figures can be off by several KB; the sums hold;")
        print("run-time objects come on top):")
        items = ["%s %s" % (n, v if isinstance(v, str) else "%d" % v) for n, v in full["breakdown"]]
        for i in range(0, len(items), 4):
            print("  " + ", ".join(items[i:i + 4]))
        used = [v for n, v in full["breakdown"]
                if n != "fakes" and not n.startswith(UNUSED) and not isinstance(v, str)]
        unused = [v for n, v in full["breakdown"] if n.startswith(UNUSED) and not isinstance(v, str)]
        print("  sum of the modules this board loads: %s; not loaded here (unused:): %s"
              % (kb(sum(used)), kb(sum(unused))))
    print()
    for name, res in (("baseline", base), ("full (.mpy)", full), ("full (ROMFS)", rom)):
        if res.get("tried"):
            print("Bisection, %s: %s" % (name, ", ".join("%d KB %s" % (k, "ok" if ok else "FAIL")
                                                         for k, ok, _ in res["tried"])))
        extra = [res[key] for key in ("target_run", "budget_run") if res.get(key) and res[key] not in res.get("tried", [])]
        for k, ok, note in res.get("tried", []) + extra:
            if not ok and name != "baseline":
                print("  %s at %d KB failed: %s" % (name, k, note))
        if res.get("budget_hit"):
            print("  NOTE: the time budget ran out: this smallest heap is an upper bound")
    for name, res in (("full (.mpy)", full), ("full (ROMFS)", rom)):
        if res.get("timeline"):
            print("Boot timeline, %s at %d KB (s after the VM started): %s" % (
                name, COMFORTABLE_KB, ", ".join("%s %.2f" % x for x in res["timeline"])))
        if res.get("run"):
            print("Full scenario, %s at %d KB: %s" % (name, COMFORTABLE_KB, res["run"]))
    print()
    print("TARGET full scenario with a %d KB heap, code as .mpy (as deployed): %s" % (TARGET_KB, verdict(full)))
    print("       same, code in ROMFS (flash-resident code):        %s" % verdict(rom))
    print("BUDGET the default heap, %d KB (24 KB on 32 bits), code as .mpy: %s" % (BUDGET_KB, verdict(full, "budget_run")))
    print("       same, code in ROMFS:                              %s" % verdict(rom, "budget_run"))
    for name, res in (("code as .mpy", full), ("code in ROMFS", rom)):
        if "budget_free" in res:
            free, n = res["budget_free"]
            print("LOOP   smallest free heap at the default heap (%d KB), %s, over %d device statuses: %s "
                  "(target %d KB: %s)" % (BUDGET_KB, name, n, kb(free), LOOP_FREE_KB,
                                          "PASS" if free >= LOOP_FREE_KB * 1024 else "MISS"))
        else:
            print("LOOP   smallest free heap at the default heap (%d KB), %s: not measured (%s)"
                  % (BUDGET_KB, name, res.get("budget_free_why") or res.get("why")))


def why(e):
    """An exception as its traceback's last line, cut to one line."""
    text = traceback.format_exception_only(type(e), e)[-1].strip()
    return text.splitlines()[0][:160] if text else type(e).__name__


def unmeasured(base, sizes, full):
    """(figure, why) for every figure the report should give and has not got.
    A MISS at 24 KB or at the budget heap is a figure; a scenario that fails even with a
    comfortable heap, or a console line the bench no longer finds, is not."""
    out = []
    if base.get("min_heap_kb") is None:
        note = base["tried"][0][2] if base.get("tried") else "not run"
        out.append(("baseline smallest heap", "the bare publish failed even at 128 KB: %s" % note))
    elif "peak_live" not in base:
        out.append(("baseline peak live heap and first publish",
                    "no run at %d KB completed" % COMFORTABLE_KB))
    if not sizes:
        out.append(("firmware .mpy sizes", base.get("sizes_why", "not measured")))
    rom = full.get("rom")
    for name, res in (("full (.mpy)", full), ("full (ROMFS)", rom)):
        if res is None:
            out.append((name, "not run: %s" % full.get("why", "?")))
        elif res.get("why"):
            out.append((name, res["why"]))
        else:
            out.extend(("%s %s" % (name, what), reason) for what, reason in res.get("missing", ()))
    if "run" in full:
        if full.get("breakdown_why"):
            out.append(("heap breakdown", full["breakdown_why"]))
        out.extend(("heap breakdown, %s" % n, v.replace("_", " ")) for n, v in full.get("breakdown", ())
                   if isinstance(v, str))
        if not full.get("fakes") and not full.get("breakdown_why"):
            out.append(("heap of the virtual board's fakes", "no 'fakes' line from the probe"))
    return out


SECTIONS = ("classic", "soak", "drain", "features")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="%(publishes)d readings per trial, bisection in %(full_step)d KB steps" % MODES["quick"]
                    + "; a soak of %d turns, a drain of %d readings" % (MODES["quick"]["soak"], MODES["quick"]["drain"]))
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds the whole bench may take; bisection stops there (default %.0f, %.0f "
                         "with --quick)" % (MODES["full"]["budget"], MODES["quick"]["budget"]))
    ap.add_argument("--soak", type=int, default=None, metavar="TURNS",
                    help="loop turns of the soak (default %d, %d with --quick)"
                    % (MODES["full"]["soak"], MODES["quick"]["soak"]))
    ap.add_argument("--drain", type=int, default=None, metavar="N",
                    help="queued readings drained (default %d, %d with --quick)"
                    % (MODES["full"]["drain"], MODES["quick"]["drain"]))
    ap.add_argument("--only", default=",".join(SECTIONS), metavar="SECTIONS",
                    help="comma-separated sections to run, of: %s (default: all). classic: the baseline, "
                         "sizes, the full scenario's bisection and the 32-bit table" % ", ".join(SECTIONS))
    args = ap.parse_args(argv)
    mode = dict(MODES["quick" if args.quick else "full"])
    if args.budget is not None:
        mode["budget"] = args.budget
    for key in ("soak", "drain"):
        if getattr(args, key) is not None:
            mode[key] = getattr(args, key)
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = [x for x in only if x not in SECTIONS]
    if unknown:
        ap.error("--only: unknown section %s (sections: %s)" % (", ".join(unknown), ", ".join(SECTIONS)))
    t0 = time.monotonic()
    reason = upy.unavailable_reason()
    if reason:
        print("bench/firmware.py: cannot run here: %s" % reason)
        return 2
    base = sizes = full = heap = soaked = drained = feats = None
    with tempfile.TemporaryDirectory(prefix="neoc-bench-fw-") as tmp:
        try:
            rig = Rig(tmp)
        except (MosquittoError, RuntimeError, OSError) as e:
            print("bench/firmware.py: cannot run here: %s" % why(e))
            return 2
        try:
            if "classic" in only:
                base = measure_baseline(rig, mode)
            if "classic" in only or "features" in only:
                try:
                    sizes = firmware_sizes(rig.work)
                except Exception as e:  # mpy-cross or the deploy broke: still print the rest
                    sizes = None
                    if base is not None:
                        base["sizes_why"] = why(e)
            if "classic" in only:
                try:
                    full = measure_full(rig, mode, mode["budget"] - (time.monotonic() - t0))
                except Exception as e:  # the stub or the board cannot start: still print the rest
                    log("full scenario: %s" % why(e))
                    full = {"why": "could not be run (%s)" % why(e)}
            if "soak" in only:
                log("soak: %d loop turns at the default heap, clock x%d" % (mode["soak"], SOAK_CLOCK))
                try:
                    soaked = soak(rig, mode["soak"])
                except Exception as e:
                    soaked = {"why": why(e)}
            if "drain" in only:
                log("drain: %d queued readings, and as many live publishes" % mode["drain"])
                try:
                    drained = drain_vs_live(rig, mode["drain"])
                except Exception as e:
                    drained = {"why": why(e)}
            if "features" in only:
                log("features: flash and heap of the outbox, the portal, OTA/stage, safe mode")
                try:
                    feats = features(rig.work, sizes)
                except Exception as e:
                    feats = {"rows": [], "why": why(e)}
        finally:
            rig.close()
    missing = []
    if "classic" in only:
        heap = heap32.measure(quick=args.quick)
        report(base, sizes, full, mode)
        heap32.report(heap)
        missing += unmeasured(base, sizes, full) + heap32.unmeasured(heap)
    if soaked is not None:
        print_soak(soaked, mode["soak"])
        if soaked.get("why") or not soaked.get("samples"):
            missing.append(("soak", soaked.get("why", "no sample")))
    if drained is not None:
        print_drain(drained)
        if drained.get("why"):
            missing.append(("drain", drained["why"]))
    if feats is not None:
        print_features(feats, full)
        if feats.get("why") or not feats["rows"] or any(r[4] for r in feats["rows"]):
            missing.append(("features", feats.get("why") or "a feature's heap"))
    print()
    print("run time %.0f s%s" % (time.monotonic() - t0, " (--quick)" if args.quick else ""))
    if missing:
        print("NOT MEASURED (%d figures):" % len(missing))
        for what, reason in missing:
            print("  %s: %s" % (what, reason))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
