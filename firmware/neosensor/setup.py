# The set-up phase of a boot: Wi-Fi, NTP, the I2C scan and the sensOCampus
# handshake. What the loop needs is written as the boot plan (plan.py), then
# a soft reset starts the loop phase (assemble.py, app.py) on a fresh heap: none of this code, its
# documents, its qstrs or the holes they leave are in the loop's heap. A
# board keeps its Wi-Fi association and its clock across a soft reset.
import gc
import sys
import time
import machine
from neosensor import pause, plan, store, unload, watchdog_ms, wifi

# board -> I2C (SDA, SCL): the neOSensor ESP8266 wiring and the ESP32's usual
# pins. The one pin table: the virtual board reads this literal from here
# (virtual_board/spec.py), so keep it a literal.
PINS = {"esp8266": (14, 12), "esp32": (21, 22)}


def _chips(board):
    """[(driver module, class name, address, QUANTITIES)] of the chips found."""
    sda, scl = PINS.get(board, PINS["esp8266"])
    from neosensor import chips
    from drivers.scan import CANDIDATES
    found = chips.find(machine.SoftI2C(scl=machine.Pin(scl), sda=machine.Pin(sda)))
    print("i2c: %s" % ", ".join("%s@0x%02x" % (d.CHIP, d.address) for d in found))
    out = []
    while found:
        d = found.pop()
        name = type(d).__name__
        for path, cls in CANDIDATES[d.address]:
            if cls == name:
                out.insert(0, (path, name, d.address, d.QUANTITIES))
    d = None
    # Plain data kept: the drivers' code goes too (the loop phase loads it again).
    unload("neosensor.chips", *[n for n in sys.modules if n.startswith("drivers")])
    return out


def _modules(cfg, mac, modules, chips):
    """The device module's checked config; every module this firmware can
    feed is written to its own plan file (plan.write_module(1.., quantity,
    checked config), quantity None for digital and noise, fed by GPIOs) as
    it is checked, so only one is in the heap at a time. The others are said
    on the console and left out. Returns (device config, number of files)."""
    from neocampus.params import checked as check
    from neocampus.table import MODULES, QUANTITY

    def checked(name, mac, mc):
        # Only the keys the loop phase reads: a smaller plan to load there.
        c = check(name, mac, mc)
        return {k: c[k] for k in ("module", "frequency", "unit_id", "cfg", "params") if k in c}

    device = checked("device", mac, {"module": "device"})
    n = 0
    if cfg.get("sandbox") and not modules:
        # No registry in sandbox mode: a module for each quantity on the bus.
        for name in ("temperature", "humidity", "luminosity", "airquality"):
            if any(MODULES[name][QUANTITY] in c[3] for c in chips):
                modules.append({"module": name, "params": {}})
    for mc in modules:
        name = mc.get("module")
        q = MODULES[name][QUANTITY] if name in MODULES else None
        if name == "device":
            device = checked(name, mac, mc)
            continue
        if q is None and name != "digital" and name != "noise":
            print("module %s: not supported by this firmware yet" % name)
            continue
        if q is not None and not any(q in c[3] for c in chips):
            print("module %s: no chip for it on the bus" % name)  # in the status, publishes nothing
        n += 1
        plan.write_module(n, q, checked(name, mac, mc))
    return device, n


def _outbox_size(conf):
    """The outbox ring's size in records: config.json's {"outbox": {"records":
    N}}, or 24 h of a board with three modules publishing every 60 s, made to
    fit the free flash (less 16 KB for the other files)."""
    import os
    from neosensor.outbox import FILE, RECORD
    n = conf.get("records") if isinstance(conf, dict) else None
    if not isinstance(n, int) or isinstance(n, bool) or n < 16:
        if conf is not None:
            print("outbox: bad config %r: the default size" % (conf,))
        n = 4320
    try:
        st = os.statvfs("/")
        room = st[0] * st[4] - 16384
    except OSError:
        room = n * RECORD
    try:
        room += os.stat(FILE)[6]  # its own room counts
    except OSError:
        pass
    if n * RECORD > room:
        n = max(16, room // RECORD)
        print("outbox: %d records fit the free flash" % n)
    unload("neosensor.outbox")
    return n


def _portal(why, feed, timeout_ms=0):
    from neosensor import portal
    portal.run(why, feed, timeout_ms)


def run():
    cfg = store.load("config.json")
    if not isinstance(cfg, dict):
        cfg = {}
    wdt = machine.WDT(timeout=watchdog_ms(cfg))
    feed = wdt.feed
    if not cfg.get("wifi"):
        _portal("no Wi-Fi network configured" if cfg else "no readable config.json", feed)
    tries = 0
    t0 = time.ticks_ms()
    while not wifi.connect(cfg.get("wifi"), 20000, feed):
        tries += 1
        if time.ticks_diff(time.ticks_ms(), t0) > 300000:
            # 5 minutes without the network: the portal for 10, then try again.
            _portal("no Wi-Fi for %d tries" % tries, feed, 600000)
            machine.reset()
        pause(min(2000 * tries, 30000), feed)
    mac = ":".join("%02x" % b for b in wifi.sta.config("mac"))
    ntp = False
    try:
        import ntptime
        ntptime.settime()
        ntp = True
    except Exception as e:
        print("ntp: failed (%r): no timestamps" % (e,))
    # A newer release first, on this heap before anything else takes it.
    board = cfg.get("board") or ("esp32" if sys.platform == "esp32" else "esp8266")
    from neosensor import ota
    if ota.check(cfg, board, feed):
        machine.reset()
    failed = ota.failed()
    del ota
    unload("neosensor.ota", "neosensor.stage", "neosensor.http")
    # The bus first: its drivers are dropped (plain data kept) before the
    # handshake loads its own code, so the two never share the heap.
    chips = _chips(board)
    from neosensor import handshake
    creds, conf = handshake.run(cfg, mac, feed, machine.Pin(2, machine.Pin.OUT))
    # Plain data only: a Config instance would keep its module alive.
    base, modules = conf.base_topic, conf.modules
    del handshake, conf
    unload("neosensor.handshake", "neosensor.http", "neosensor.tls", "neocampus.sensocampus")
    if (cfg.get("broker") or {}).get("tls"):
        creds["mqtt_tls"] = True  # for the plan only: sensocampus.json is written already
    if not base:
        print("sensocampus: no location for this device yet: nothing to publish")
        base = "_unconfigured/" + mac.replace(":", "")
    ring = _outbox_size(cfg.get("outbox"))
    # The bus, one file per module, then the file that says the set-up is done.
    plan.write_bus(PINS.get(board, PINS["esp8266"]), [c[:3] for c in chips])
    device, n = _modules(cfg, mac, modules, chips)
    modules = None
    plan.write_done({"mac": mac, "base": base, "creds": creds, "ntp": ntp, "board": board,
                     "wifi": cfg.get("wifi"), "device": device, "modules": n,
                     "outbox": ring, "failed_update": failed})
    unload("neosensor.plan")
    feed()
    print("setup: done, %d bytes free: soft reset into the loop" % gc.mem_free())
    machine.soft_reset()
