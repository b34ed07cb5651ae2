# The loop phase's set-up: an App's modules, MQTT link, drivers and inputs,
# built from the plan that setup.py wrote. app.py unloads this module once the
# App is built: the loop keeps none of this code.
import gc
import time
import machine
from neocampus import payload
from neocampus.module import Module
from neosensor import link, store


def _drivers(chips, pins):
    # The chips the set-up's scan identified, built again at their addresses
    # (their constructors check the identity once more).
    i2c = machine.SoftI2C(scl=machine.Pin(pins[1]), sda=machine.Pin(pins[0]))
    found = []
    for path, name, address in chips:
        gc.collect()  # each driver's module in one piece, not strewn in the holes
        try:
            found.append(getattr(__import__(path, None, None, (name,)), name)(i2c, address))
        except Exception as e:  # gone since the scan, or an unknown driver
            print("i2c: %s@0x%02x left out: %r" % (name, address, e))
    return found


def _digital(app, m, params):
    # Inputs from params: "input" (a GPIO or a list of them), "type"
    # (presence, on_off or open_close); published on every change.
    pins = params.get("input", params.get("inputs"))
    kind = params.get("type") or "presence"
    for pin in (pins if isinstance(pins, list) else [pins]):
        if isinstance(pin, int) and not isinstance(pin, bool):
            app.inputs.append([m, machine.Pin(pin, machine.Pin.IN), pin, kind, None])
        else:
            m.errors += 1
            print("module digital: bad input param %r" % (pin,))


def _noise(app, m, params, found, now):
    # The comparator's GPIO from params "input"; the threshold DAC if the
    # scan found one (without it the threshold is the board's fixed one).
    gpio = params.get("input")
    if not isinstance(gpio, int) or isinstance(gpio, bool):
        m.errors += 1
        print("module noise: bad input param %r" % (gpio,))
        return
    dac = None
    for d in found:
        if d.CHIP == "MCP47x6":
            dac = d
    from neosensor.noise import Noise
    app.noises.append(Noise(m, gpio, dac, store.load("module_noise.json"), now))


def app(cls, feed):
    """The App (class `cls`) built from the plan setup.py wrote, which is
    taken (its files removed): a reset from here on goes through the set-up
    phase again. The plan is in files read one at a time, each dropped once
    used: plan_0.json the bus and its chips, plan.json the board (mac, topic,
    credentials, Wi-Fi, device module), plan_1.json... one module each. Read
    whole, the plan was a 3.5 KB peak on top of everything built from it."""
    # The drivers first, while the heap above the loop's code is still clear:
    # their code is among the biggest things the loop keeps.
    chips = _take("plan_0.json")
    found = _drivers(chips[1], chips[0])
    chips = None
    plan = store.load("plan.json")
    if not isinstance(plan, dict):
        _again("plan.json", plan)
    _remove("plan.json")
    now = time.ticks_ms()
    a = cls(plan, feed, now)
    _parts(a, plan, found, now)
    return a


def _remove(name):
    import os
    try:
        os.remove(name)
    except OSError:
        pass


def _again(name, what):
    # A plan file missing or garbage (a power cut while the set-up wrote them
    # or while this took them, a bad write): not a crash, and no board left
    # running without part of its plan. The set-up writes them all again.
    print("%s unreadable (%r): set-up again" % (name, what))
    _remove("plan.json")
    machine.soft_reset()


def _take(name):
    """A [x, y] plan file's content, the file removed (set-up again if it is
    not what setup.py writes)."""
    entry = store.load(name)
    _remove(name)
    if not isinstance(entry, list) or len(entry) != 2:
        _again(name, entry)
    return entry


def _parts(app, plan, found, now):
    mac = plan["mac"]
    app.device = dev = Module("device", mac, plan.pop("device"), now)
    dev.restore(store.load("module_device.json"))
    app.modules.append(dev)
    # The MQTT client (its tables are among the biggest blocks the board
    # keeps) before the modules' transients can split the free space.
    link.setup(plan.pop("creds"), mac, app.base, app._on_message,
               payload.status("device", dev.frequency, 0, "", mac, status="offline"))
    for i in range(1, plan["modules"] + 1):
        name = "plan_%d.json" % i
        q, mc = _take(name)
        if not isinstance(mc, dict) or "module" not in mc:
            _again(name, mc)
        name = mc["module"]
        m = Module(name, mac, mc, now)
        m.restore(store.load("module_%s.json" % name))
        app.modules.append(m)
        if name == "digital":
            _digital(app, m, mc.get("params") or {})
        elif name == "noise":
            _noise(app, m, mc.get("params") or {}, found, now)
        else:
            for d in found:
                if q in d.QUANTITIES:
                    # airquality names its sensors by gas (subID "co2"), others by I2C address.
                    sub = q if name == "airquality" else d.address
                    app.sensors.append([m, m.add_sensor(sub, d.CHIP, now), d, q, now])
