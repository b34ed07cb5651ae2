"""The firmware's heap counted as an ESP8266 counts it: 32-bit MicroPython.

The virtual board and bench/firmware.py run the 64-bit unix port, whose
objects take about twice a 32-bit board's room. This bench runs the
firmware's phases in the 32-bit MicroPython 1.29 WebAssembly port
(toolchain/wasm.py) and, for a like-with-like ratio, the very same in-VM
scenario in the 64-bit unix port (toolchain/micropython.py).

The scenario (bench/heap_vm/): one VM per phase of a boot, as a soft reset
separates them on a board. The set-up phase (firmware/neosensor/setup.py) in
sandbox mode (the sensOCampus handshake is skipped: its HTTP has no fake
here) scans the bus and writes the plan files; the loop phase
(neosensor/app.py) builds its App from them and runs: a scripted broker in
place of the socket sends, round after round, acquire orders to the three
modules (4 readings a round: MCP9808 and SHT3x temperature, SHT3x humidity,
TSL2561 luminosity), a device status order every 10 rounds, a frequency and
a status order at the start, then a restart order, which ends the run
(machine.reset()). The chips are drivers.sim models on a SimBus standing for
machine.SoftI2C; network and socket are fakes as small as will do. All the
fakes are built before the first measure: their bytes are the baseline that
every figure is taken from. The run is checked (every reading published, the
script played to its end, one MQTT connection, no MemoryError or traceback)
or its figures are reported as not measured.

How the heap is counted. The WebAssembly heap grows on demand, so no
MemoryError comes: bytes are counted, not failures. And its gc.collect()
inside running code only asks for a collection, done once control is back at
its top level (ports/webassembly/main.c: with a growable heap the wasm stack
cannot be scanned). So the scenario runs in steps, each a top-level call with
a collection after it (toolchain/wasm.py `repeat`): the loop phase's own
set-up (app.run() up to its loop's first watchdog feed), then one loop turn
a step (the feed at the top of the next turn ends it; App.loop() called again
goes on where it was). The unix port runs the same steps with gc.collect()
between, and the firmware's own gc.collect() calls are made no-ops in both
(a fake `gc`), so both VMs collect at the same points.
  * objects at rest: gc.mem_alloc() between two turns, after the collection
    (exact); the largest over the run.
  * peak: gc.mem_alloc() as it is (no collection inside a turn in either VM)
    at every call the firmware makes into a fake: each I2C transfer, each
    socket read, each payload's first part written, each feed. That is the
    objects at rest plus everything the turn allocated so far, its garbage
    included: an upper bound of the turn's live peak (on a board the firmware
    and the allocator collect inside the turn), sampled at those calls. The
    broker sends one order a turn, so a turn's garbage is one order's work.
    What the fakes themselves allocate (SimBus and the chip models carrying a
    transfer) is counted apart and left out; a socket read's bytes are kept
    (a board's socket allocates them too).
  * the 64-bit VM also runs the scenario collecting at every sample (only
    the unix port can): its sampled live peak, to show how loose the bound
    is, and an estimate of the 32-bit live peak from it.
  * code: the firmware is a ROMFS image mounted at /rom, its .mpy code run in
    place, as flash-resident code runs on a board; what importing it leaves in
    the heap is module, function and class objects and their dicts ("code
    objects", in the objects at rest). The qstr pool is grown beforehand with
    throw-away names so that the code's qstrs cost no pool chunk (frozen code
    keeps them in flash; the chunks' size and moment also differ between the
    two builds); a chunk inside a measure is reported as not measured. The
    bytecode a board loading .mpy files into RAM would add is the difference
    between importing the loop's modules from .mpy files and from the image:
    shown, not in the budget (counted as frozen, in flash).
  * budget figure: the larger of the loop's set-up peak, the objects once the
    App is built and the loop turns' peak, over the baseline: objects + peak.
  * ratio: 64-bit over 32-bit, same scenario, same sampling points. The
    64-bit equivalent of the 24 KB budget is 24 KB times the larger of the
    ratios for objects+peak and for objects at rest, rounded up to the KB: the
    heap a 64-bit VM needs to give this firmware the room a 24 KB board gives
    it (instances and lists double, strings and bytes do not: the ratio is
    this firmware's mix, not a constant).
What is weak: the peak is an upper bound (garbage counted) sampled at the
fakes' calls; ROMFS-loaded code keeps per-function records and constant
tables in RAM that frozen code keeps in flash (code objects are a little
over-estimated for a frozen board); the set-up phase runs in sandbox mode
(no sensOCampus HTTP handshake) and without any collection inside it, so its
figure is a loose bound; fragmentation, which decides whether a heap of a
given size really runs, is not measured (the WebAssembly heap never runs out).

Exits 1 when a column could not be measured although its VM is here (the
scenario broke: the firmware no longer runs in it, a figure is missing), 2
when a VM is missing (Node.js or the npm package: `make upy32`).
bench/firmware.py prints this bench's table too (heap32.measure/report).

    python bench/heap32.py [--quick]
"""
import argparse
import json
import math
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from toolchain import micropython as upy  # noqa: E402
from toolchain.mpy import compile_tree  # noqa: E402
from toolchain import wasm  # noqa: E402

VM_DIR = pathlib.Path(__file__).resolve().parent / "heap_vm"
SCENARIO = VM_DIR / "scenario.py"
TARGET_KB = 24
ROUNDS = {"full": 50, "quick": 10}
# What the image holds: the firmware's packages at its root, the fakes beside.
TREES = ((ROOT / "firmware" / "neosensor", "neosensor", ()),
         (ROOT / "firmware" / "lib" / "umqtt", "umqtt", ("*.md", "LICENSE*")),
         (ROOT / "neocampus", "neocampus", ()),
         (ROOT / "drivers", "drivers", ()))
# A first heap area no scenario fills: collections come only where the
# firmware or the meter asks for them, in both VMs.
VM_HEAP = 2 * 1024 * 1024
# The unix port has no ROMFS of its own to mount: the image is read into a
# bytearray and mounted (that buffer is in the baseline, not in a figure).
UNIX_ROM = """\
import sys, vfs
_f = open(sys.argv.pop(1), "rb")
_b = bytearray(_f.read())
_f.close()
vfs.mount(vfs.VfsRom(_b), "/rom")
sys.path.insert(0, "/rom")
del _f
"""
CONFIG = {"wifi": [{"ssid": "lab", "password": "lab-pw"}], "sandbox": True,
          "broker": {"server": "broker.invalid", "port": 1883}}
# Modules the loop imports first (app.run()), then the others it keeps.
FIRST = ("neosensor", "neocampus.commands", "neocampus.module", "neosensor.app")


class NotMeasured(Exception):
    pass


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def last_line(*texts):
    for text in texts:
        lines = [x.strip() for x in (text or "").splitlines() if x.strip()]
        if lines:
            return lines[-1]
    return None


# -- the firmware as a ROMFS image, and as .mpy files --------------------------------
def stage(work):
    """The firmware and the fakes compiled to .mpy under work/stage, and the
    ROMFS image of that tree (work/rom.img); returns (stage dir, image)."""
    work = pathlib.Path(work)
    st = work / "stage"
    for src, name, exclude in TREES:
        compile_tree(src, st / name, keep_source=(), exclude=exclude)
    compile_tree(VM_DIR, st, keep_source=(), exclude=("scenario.py",))
    image = work / "rom.img"
    mpremote = pathlib.Path(sys.executable).with_name("mpremote")
    proc = subprocess.run([str(mpremote) if mpremote.exists() else "mpremote", "romfs", "--no-mpy", "-o",
                           str(image), "build", str(st)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise NotMeasured("mpremote romfs build failed: %s" % last_line(proc.stderr, proc.stdout))
    return st, image


# -- one phase in one VM ------------------------------------------------------------------
QSTR = re.compile(r"n_pool=(\d+), n_qstr=(\d+), n_str_data_bytes=(\d+), n_total_bytes=(\d+)")


def parse(proc, what):
    """The HEAP line's figures, with the qstr pool's before and after the measure."""
    out = proc.stdout or ""
    res = None
    for line in out.splitlines():
        if line.startswith("HEAP "):
            res = json.loads(line[5:])
    if res is None:
        raise NotMeasured("%s: no result (exit %d): %s" % (what, proc.returncode,
                                                           last_line(proc.stderr, proc.stdout)))
    pools = [tuple(int(x) for x in m.groups()) for m in QSTR.finditer(out)]
    if len(pools) != 2:
        raise NotMeasured("%s: the qstr pool was not reported (%d qstr_info lines)" % (what, len(pools)))
    if pools[1][0] != pools[0][0]:
        # A new pool chunk inside the measure: its size (and when it comes)
        # differs between the two builds, so the columns would not compare.
        raise NotMeasured("%s: a qstr pool chunk was allocated inside the measure (%d qstrs interned): "
                          "raise QSTR_ROOM in bench/heap_vm/fakes.py" % (what, pools[1][1] - pools[0][1]))
    res["qstrs"] = pools[1][1] - pools[0][1]
    res["console"] = out
    return res


def run_wasm(work, image, args, flash=None, ram=None, timeout=600):
    files = [("/flash/" + f.name, f) for f in sorted(pathlib.Path(flash).iterdir())] if flash else []
    if ram:
        files += wasm.tree("/lib", ram)
        image = None
    code = "STEPPED = True\n" + SCENARIO.read_text()
    save = [("/flash", flash)] if flash else ()
    # One top-level call a step: the port collects between two (scenario.py).
    return wasm.run(code, files=files, romfs=image, args=["scenario.py", *args], cwd="/flash",
                    save=save, repeat="_more = advance()\ngc.collect()\n", heap=VM_HEAP, timeout=timeout)


def run_unix(work, image, args, flash=None, ram=None, timeout=600):
    work = pathlib.Path(work)
    script = work / "scenario_unix.py"
    if ram:
        script.write_text(SCENARIO.read_text())
        path, pre = [ram], []
    else:
        script.write_text(UNIX_ROM + SCENARIO.read_text())
        path, pre = [], [str(image)]
    cwd = flash or work
    return upy.run(script, args=[*pre, *args], heap=str(VM_HEAP), path=path, cwd=cwd, timeout=timeout)


VMS = {"32": run_wasm, "64": run_unix}


def measure_vm(bits, work, image, st, rounds):
    """Every figure of one VM: set-up and loop phases (gc.mem_alloc() as it
    is; in the 64-bit VM also collected at each sample), imports from the
    image and from .mpy files in the heap."""
    run = VMS[bits]
    work = pathlib.Path(work) / ("vm" + bits)
    flash = work / "flash"
    flash.mkdir(parents=True)
    modes = ("alloc", "live") if bits == "64" else ("alloc",)
    res = {}
    t0 = time.monotonic()
    plan = None
    for mode in modes:
        (flash / "config.json").write_text(json.dumps(CONFIG))
        r = parse(run(work, image, ["setup", mode], flash), "%s-bit set-up phase" % bits)
        if r["end"] != "soft_reset" or not (flash / "plan.json").exists():
            raise NotMeasured("%s-bit set-up phase ended by %s, no plan written: %s"
                              % (bits, r["end"], last_line(r["console"])))
        res["setup_" + mode] = r
        plan = plan or dict((f.name, f.read_bytes()) for f in flash.iterdir() if f.name.startswith("plan"))
    for mode in modes:
        for f in flash.iterdir():
            if f.name != "config.json":
                f.unlink()
        for name, data in plan.items():  # the same plan for every run; the loop phase takes it
            (flash / name).write_bytes(data)
        r = parse(run(work, image, ["loop", mode, str(rounds)], flash), "%s-bit loop phase" % bits)
        check_loop(r, rounds, bits)
        res["loop_" + mode] = r
    kept = [n for n in FIRST if n in res["loop_alloc"]["modules"]]
    kept += [n for n in res["loop_alloc"]["modules"] if n not in kept]
    res["kept"] = kept
    res["rom"] = parse(run(work, image, ["imports", *kept]), "%s-bit imports (image)" % bits)
    res["ram"] = parse(run(work, image, ["imports", *kept], ram=st), "%s-bit imports (.mpy)" % bits)
    res["seconds"] = time.monotonic() - t0
    return res


def check_loop(r, rounds, bits):
    """The loop did the scenario's work, or the figures mean nothing."""
    want = 4 * rounds
    problems = []
    if r["end"] != "reset":
        problems.append("ended by %s, not by the restart order's reset" % r["end"])
    if not r["script_done"]:
        problems.append("the broker's script was not played to its end")
    if r["readings"] < want:
        problems.append("%d readings of %d" % (r["readings"], want))
    if r["late"]:
        problems.append("%d orders not answered in time" % r["late"])
    if r["connects"] != 1:
        problems.append("%d MQTT connections" % r["connects"])
    bad = [x for x in r["console"].splitlines() if "MemoryError" in x or "Traceback" in x or "out of memory" in x]
    if bad:
        problems.append(bad[0].strip())
    if problems:
        raise NotMeasured("%s-bit loop phase: %s" % (bits, "; ".join(problems)))


# -- figures ---------------------------------------------------------------------------------
def figures(v):
    """The table's figures of one VM's results."""
    la, lv = v["loop_alloc"], v.get("loop_live")
    rom, ram = v["rom"]["rest"], v["ram"]["rest"]
    return {
        "code_objects": rom,                      # what importing in-place code leaves in the heap
        "bytecode": ram - rom,                    # what loading .mpy into RAM adds
        "after_build": la["after_build"],         # objects once the App is built
        "rest": la["rest"],                       # objects between turns (code objects included)
        "runtime": la["rest"] - rom,              # of which run-time objects
        "build": la["build"],                     # peak of mem_alloc over assemble.py and its imports
        "peak": la["peak"],                       # peak of mem_alloc in a loop turn
        "transient": la["peak"] - la["rest"],
        "budget": max(la["peak"], la["build"], la["after_build"]),
        "live_peak": lv["peak"] if lv else None,  # sampled live (64-bit only)
        "live_build": lv["build"] if lv else None,
        "setup": v["setup_alloc"]["build"],
        "setup_live": v["setup_live"]["build"] if "setup_live" in v else None,
        "setup_left": v["setup_alloc"]["after_build"],
        "peak_where": la["where"], "peak_turn": la["peak_turn"], "build_where": la["build_where"],
        "readings": la["readings"], "turns": la["steps"] - 3, "samples": la["samples"],
        "qstrs": la["qstrs"], "fake": la["fake"], "maxsize": la["maxsize"], "seconds": v["seconds"],
        "kept": v["kept"],
    }


def measure(quick=False, work=None, rounds=None):
    """{"32": figures or None, "64": figures or None, "why32", "why64": reasons,
    "rounds"}. Never raises for a VM that cannot run: the reason is given."""
    rounds = rounds or ROUNDS["quick" if quick else "full"]
    out = {"rounds": rounds, "32": None, "64": None}
    reasons = {"32": wasm.unavailable_reason(), "64": upy.unavailable_reason()}
    tmp = tempfile.TemporaryDirectory(prefix="neoc-heap32-") if work is None else None
    work = pathlib.Path(tmp.name if tmp else work)
    try:
        try:
            st, image = stage(work)
        except (NotMeasured, OSError, RuntimeError) as e:
            for bits in ("32", "64"):
                reasons[bits] = reasons[bits] or "firmware not staged: %s" % e
            st = image = None
        for bits in ("32", "64"):
            if reasons[bits]:
                out["why" + bits] = reasons[bits]
                out["absent" + bits] = st is not None  # the VM is missing here: not a failure
                continue
            log("heap32: %s-bit VM, set-up and loop phases (%d rounds)" % (bits, rounds))
            try:
                v = measure_vm(bits, work, image, st, rounds)
                out[bits] = figures(v)
            except (NotMeasured, subprocess.TimeoutExpired, OSError, RuntimeError, KeyError, ValueError) as e:
                out["why" + bits] = str(e)
                log("heap32: %s-bit: %s" % (bits, e))
    finally:
        if tmp:
            tmp.cleanup()
    return out


# -- report ---------------------------------------------------------------------------------
def kb(n):
    return "%.1f KB" % (n / 1024.0) if n is not None else "n/a"


def ratios(res):
    """{"budget": 64/32 of objects+peak, "rest": 64/32 of objects at rest},
    or None without both columns."""
    a, b = res.get("32"), res.get("64")
    if not (a and b and a["budget"] and a["rest"]):
        return None
    return {"budget": b["budget"] / float(a["budget"]), "rest": b["rest"] / float(a["rest"])}


def equivalent(res, target_kb=TARGET_KB):
    """(64-bit heap in KB that gives the firmware the room target_kb gives it
    on a 32-bit board, ratio used): target times the larger of the two
    like-with-like ratios, rounded up to the KB; None without both columns."""
    r = ratios(res)
    if r is None:
        return None
    used = max(r["budget"], r["rest"])
    return int(math.ceil(target_kb * used)), used


def live_estimate(res):
    """The 32-bit live peak of the loop, estimated: objects at rest plus the
    64-bit sampled live transient scaled by the 32/64 ratio of the turns'
    allocations (the only live transient either VM can measure inside running
    code is the unix port's)."""
    a, b = res.get("32"), res.get("64")
    if not (a and b and b["live_peak"] and b["transient"] > 0):
        return None
    return a["rest"] + max(0, b["live_peak"] - b["rest"]) * a["transient"] / float(b["transient"])


ROWS = (("code objects (imports, code in ROMFS)", "code_objects"),
        ("bytecode (.mpy in RAM; in flash here)", "bytecode"),
        ("loop: objects at rest (between turns)", "rest"),
        ("  of which run-time objects", "runtime"),
        ("loop: peak of gc.mem_alloc() in a turn", "peak"),
        ("  of which the turn's allocations", "transient"),
        ("loop's set-up (assemble.py): peak mem_alloc", "build"),
        ("loop phase: objects + peak (budget)", "budget"),
        ("loop: peak live, sampled (64-bit only)", "live_peak"),
        ("set-up phase (sandbox): peak mem_alloc", "setup"),
        ("set-up phase: peak live, sampled (64-bit)", "setup_live"))


def report(res):
    a, b = res.get("32"), res.get("64")
    print()
    print("== Loop-phase heap as a 32-bit board counts it (MicroPython 1.29: WebAssembly port, 32-bit; "
          "unix port, 64-bit) ==")
    print("Same in-VM scenario in both: %d rounds of acquire orders (4 readings each), status and frequency"
          % res["rounds"])
    print("orders, a restart order; one order a loop turn; code in a ROMFS image run in place; bytes over the")
    print("baseline of the fakes; qstr pool grown beforehand (code qstrs in flash, as frozen).")
    print("  %-44s %10s %10s %6s" % ("figure", "32-bit", "64-bit", "64/32"))
    for label, key in ROWS:
        x = a.get(key) if a else None
        y = b.get(key) if b else None
        r = "%.2f" % (y / float(x)) if x and y else "-"
        print("  %-44s %10s %10s %6s" % (label, kb(x), kb(y), r))
    for bits, col in (("32", a), ("64", b)):
        if col is None:
            print("  %s-bit column: not measured: %s" % (bits, res.get("why" + bits)))
        else:
            print("  %s-bit: sys.maxsize %d; %d readings; peak in loop turn %s at a %s call; %d heap samples; "
                  "%d qstrs interned; fakes' own garbage left out %s (%.0f s)"
                  % (bits, col["maxsize"], col["readings"], col["peak_turn"], col["peak_where"], col["samples"],
                     col["qstrs"], kb(col["fake"]), col["seconds"]))
    est = live_estimate(res)
    if est is not None:
        print("  32-bit live peak of the loop, estimated (objects at rest + 64-bit live transient x 32/64 of "
              "the turn's allocations): %s" % kb(est))
    if a:
        print("budget: loop phase 32-bit objects+peak %.1f KB of %d KB: %s"
              % (a["budget"] / 1024.0, TARGET_KB, "PASS" if a["budget"] <= TARGET_KB * 1024 else "MISS"))
    else:
        print("budget: loop phase 32-bit objects+peak not measured (%s)" % res.get("why32"))
    eq = equivalent(res)
    if eq:
        r = ratios(res)
        print("64-bit equivalent of %d KB: %dk (ratio %.2f: the larger of 64/32 for objects+peak, %.2f, and for "
              "objects at rest, %.2f; x %d KB, rounded up)" % (TARGET_KB, eq[0], eq[1], r["budget"], r["rest"],
                                                               TARGET_KB))
    else:
        print("64-bit equivalent of %d KB: not measured (needs both columns)" % TARGET_KB)


def unmeasured(res):
    """(figure, why) for each column that failed although its VM is here (a
    VM missing on this machine is said in the report, not counted)."""
    return [("%s-bit heap column" % bits, res.get("why" + bits)) for bits in ("32", "64")
            if res.get(bits) is None and not res.get("absent" + bits)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="%d rounds instead of %d" % (ROUNDS["quick"], ROUNDS["full"]))
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    res = measure(args.quick)
    report(res)
    print("run time %.0f s%s" % (time.monotonic() - t0, " (--quick)" if args.quick else ""))
    missing = unmeasured(res)
    absent = [bits for bits in ("32", "64") if res.get("absent" + bits)]
    if absent and not missing:
        print("bench/heap32.py: cannot run here: %s" % "; ".join(res["why" + b] for b in absent))
        return 2
    if missing:
        print("NOT MEASURED (%d figures):" % len(missing))
        for what, why in missing:
            print("  %s: %s" % (what, why))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
