# Assembles the loop phase: an App's modules, MQTT link, drivers and inputs,
# built from the boot plan (plan.py) that setup.py wrote. app.py unloads this
# module and plan.py once the App is built: the loop keeps none of this code.
import gc
import time
import machine
from neocampus import payload
from neocampus.module import Module
from neosensor import link, plan, store


def _drivers(chips, pins):
    # The chips the set-up's scan identified, built at their addresses. The
    # constructor configures the chip (resolution, gain, mode) and, as it
    # always does, checks its identity: a few bytes on the bus that also
    # catch a chip gone between the phases. No driver is tried at an
    # address: the class the scan settled on is the one built.
    i2c = machine.SoftI2C(scl=machine.Pin(pins[1]), sda=machine.Pin(pins[0]))
    found = []
    for chip in chips:
        path, name, address = chip[plan.PATH], chip[plan.CLASS], chip[plan.ADDRESS]
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
            app.add_input(m, machine.Pin(pin, machine.Pin.IN), pin, kind)
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
    """The App (class `cls`) built from the boot plan, which is taken (its
    files removed): a reset from here on goes through the set-up again."""
    # The drivers first, while the heap above the loop's code is still clear:
    # their code is among the biggest things the loop keeps.
    bus = plan.take_bus()
    found = _drivers(bus[plan.CHIPS], bus[plan.PINS])
    bus = None
    board = plan.take_done()
    now = time.ticks_ms()
    a = cls(board, feed, now)
    _parts(a, board, found, now)
    board = None
    gc.collect()
    a.open_outbox()
    return a


def _parts(app, board, found, now):
    mac = board["mac"]
    app.device = dev = Module("device", mac, board.pop("device"), now)
    dev.restore(store.load("module_device.json"))
    app.modules.append(dev)
    # The MQTT client (its tables are among the biggest blocks the board
    # keeps) before the modules' transients can split the free space.
    link.setup(board.pop("creds"), mac, app.base, app._on_message,
               payload.status("device", dev.frequency, 0, "", mac, status="offline"))
    for i in range(1, board["modules"] + 1):
        # The last module's transients (its file's dict, its parsed record)
        # gone before this one's: a noise module's driver code comes last.
        gc.collect()
        entry = plan.take_module(i)
        q, mc = entry[plan.QUANTITY], entry[plan.CONFIG]
        entry = None
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
                    app.add_sensor(m, m.add_sensor(sub, d.CHIP, now), d, q, now)
