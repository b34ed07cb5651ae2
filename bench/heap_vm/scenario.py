# The in-VM scenario that bench/heap32.py runs in the 32-bit WebAssembly
# port and in the 64-bit unix port alike, one phase of a boot per VM (a soft
# reset separates them on a board):
#   scenario.py setup  <alloc|live>          set-up phase (sandbox config)
#   scenario.py loop   <alloc|live> ROUNDS   loop phase, from the set-up's plan files
#   scenario.py imports MODULE...            heap the modules take once imported
# The firmware is on the import path (a ROMFS image at /rom, or .mpy files),
# the flash is the working directory.
#
# Work is done in steps, advance() each, with a collection between two: the
# WebAssembly port collects only once control is back at its top level (its
# gc.collect() inside running code just asks for one), so the host runs each
# step as its own top-level call; the unix port runs them in a row here,
# gc.collect() between. A loop step is one loop turn: the watchdog feed at
# the top of the next turn ends it (vm_machine.WDT), and the next step calls
# App.loop() again, which goes on where it was (its state is the App's and
# the link's; only a backoff delay, used while the link is down, restarts).
# The result is one line, "HEAP {json}", after the last step.
import gc
import sys
import json

phase = sys.argv[1]
args = sys.argv[2:]
state = {"step": 0, "rest": 0, "rest_min": -1, "after": None, "kept": None, "end": None}


def qstr_info(mark):
    # micropython.qstr_info() only prints: the host reads its figures
    # between these marks.
    import micropython
    print(mark)
    micropython.qstr_info()


def _keep(app_class, held):
    # Wraps the App class build.app() instantiates, to hold the instance
    # across steps (App.loop() is called again at each one).
    def make(*a):
        app = app_class(*a)
        held.append(app)
        return app
    return make


def _start(mac="aa:bb:cc:00:5e:11", base="-", rounds=0):
    import fakes
    state["broker"] = fakes.install(base, mac, rounds)
    state["meter"] = fakes.meter
    state["fakes"] = fakes
    fakes.meter.live = args[:1] == ["live"]


def _begin():
    # Right after a collection, with only the fakes built: the baseline.
    qstr_info("QSTR-BEFORE")
    m = state["meter"]
    m.base = gc.mem_alloc()
    m.on = True


def _result():
    m, b = state["meter"], state.get("broker")
    m.on = False
    qstr_info("QSTR-AFTER")
    m.collected()
    res = {"end": state["end"], "peak": m.peak, "where": m.where, "samples": m.calls, "fake": m.fake_total,
           "build": state.get("build", 0), "build_where": state.get("build_where", "-"),
           "after_build": state["after"], "rest": state["rest"], "rest_min": state["rest_min"],
           "maxsize": sys.maxsize, "modules": state["kept"], "steps": state["step"],
           "peak_turn": state.get("peak_turn")}
    if b is not None:
        res.update(publishes=b.publishes, readings=b.readings, statuses=b.statuses, connects=b.connects,
                   late=b.late, script_done=b.done)
    print("HEAP " + json.dumps(res))


def _firmware_modules():
    return sorted(n for n in sys.modules if n.split(".")[0] in ("neosensor", "neocampus", "drivers", "umqtt")
                  and not n.startswith("drivers.sim"))


def advance_imports():
    s = state["step"]
    if s == 0:
        _start()
    elif s == 1:
        _begin()
        for name in args:
            __import__(name)
    else:
        state["rest"] = state["meter"].now()
        state["end"] = "imported"
        _result()
        return False
    return True


def advance_setup():
    s = state["step"]
    if s == 0:
        _start()
    elif s == 1:
        _begin()
        import vm_machine
        try:
            from neosensor import setup
            setup.run()
            state["end"] = "returned"
        except state["fakes"].Reset as e:
            state["end"] = e.args[0]
        m = state["meter"]
        state["build"], state["build_where"] = m.peak, m.where
    else:
        state["after"] = state["meter"].now()
        state["kept"] = _firmware_modules()
        _result()
        return False
    return True


def advance_loop():
    s = state["step"]
    fakes = state.get("fakes")
    if s == 0:
        with open("plan.json") as f:
            plan = json.load(f)
        _start(plan["mac"], plan["base"], int(args[1]))
        plan = None
        return True
    import vm_machine
    m = state["meter"]
    if s == 1:
        _begin()
        # The loop phase's own set-up (assemble.py, the MQTT client, the
        # drivers): app.run() up to its loop's first feed.
        from neosensor import app
        held = state["held"] = []
        app.App = _keep(app.App, held)
        vm_machine.passes = 0
        try:
            app.run()
            state["end"] = "returned"
        except fakes.Turn:
            pass
        except fakes.Reset as e:
            state["end"] = e.args[0]
        state["build"], state["build_where"] = m.peak, m.where
        m.peak, m.where = 0, "-"
        return state["end"] is None
    now = m.now()
    if s == 2:
        state["after"] = now
    else:
        state["rest"] = max(state["rest"], now)
        if state["rest_min"] < 0 or now < state["rest_min"]:
            state["rest_min"] = now
    if s > 40 * int(args[1]) + 100:
        state["end"] = "step cap"
    else:
        vm_machine.passes = 1
        before = m.peak
        try:
            state["held"][0].loop()
            state["end"] = "returned"
        except fakes.Turn:
            if m.peak > before:
                state["peak_turn"] = s - 1  # turn 1 is the one that connects
            return True
        except fakes.Reset as e:
            state["end"] = e.args[0]
    state["kept"] = _firmware_modules()
    state["held"] = None
    _result()
    return False


_ADVANCE = {"imports": advance_imports, "setup": advance_setup, "loop": advance_loop}[phase]


def advance():
    more = _ADVANCE()
    state["step"] += 1
    return more


# The WebAssembly runner defines STEPPED and calls advance() itself, one top-level call a step.
def _scrub(n):
    # Overwrites the C stack that the last step used: the unix port's
    # collector scans it conservatively, and a stale pointer left there
    # would keep that step's garbage alive into the next measure.
    return _scrub(n - 1) if n else 0


if "STEPPED" not in globals():
    while advance():
        _scrub(60)
        gc.collect()
