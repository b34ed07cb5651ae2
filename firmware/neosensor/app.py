# The neOSensor application: Wi-Fi, sensOCampus handshake, then one loop that
# samples the chips by the policy of neocampus/, publishes on ONE MQTT link
# and obeys commands. Everything it writes to flash is atomic (store.py).
import gc
import sys
import time
import machine
from neocampus import payload
from neosensor import store, wifi

REVISION = 261125          # firmware revision, YYMMDD as the OTA manifests
WDT_MS = 30000
SEQ_BLOCK = 64             # seq persisted once per block, not per publish
PINS = {"esp8266": (14, 12), "esp32": (21, 22)}
QUANTITY = {"temperature": "temperature", "humidity": "humidity", "luminosity": "lux",
            "airquality": "co2"}


def _wait(ms, feed):
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < ms:
        feed()
        time.sleep_ms(100)


def _unix_time():
    t = time.time()
    return t + 946684800 if time.gmtime(0)[0] == 2000 else t


def _unload(*names):
    # A package keeps its imported submodules as attributes: drop both refs.
    for name in names:
        sys.modules.pop(name, None)
        pkg, _, attr = name.rpartition(".")
        try:
            delattr(sys.modules[pkg], attr)
        except (KeyError, AttributeError):
            pass
    gc.collect()


def run():
    cfg = store.load("config.json") or {}
    wdt = machine.WDT(timeout=WDT_MS)
    feed = wdt.feed
    tries = 0
    while not wifi.connect(cfg.get("wifi"), 20000, feed):
        tries += 1
        if tries >= 5:
            print("wifi: no network after %d tries: reset" % tries)
            machine.reset()
        _wait(2000 * tries, feed)
    mac = wifi.mac()
    ntp = False
    try:
        import ntptime
        ntptime.settime()
        ntp = True
    except Exception as e:
        print("ntp: failed (%r): no timestamps" % (e,))
    # The code the loop keeps, loaded first: its long-lived objects then sit
    # together at the bottom of the heap, and the handshake's code and
    # documents, loaded above them and dropped after, leave one free region
    # (a fragmented heap fails a 300-byte allocation with kilobytes free).
    import neocampus.module
    import neosensor.link
    from neosensor import handshake
    creds, conf = handshake.run(cfg, mac, feed, machine.Pin(2, machine.Pin.OUT))
    # The handshake code is not needed again until the next boot: keep plain
    # data only (a Config instance would keep its module alive) and drop it.
    base, modules = conf.base_topic, conf.modules
    del handshake, conf
    _unload("neosensor.handshake", "neosensor.http", "neocampus.sensocampus")
    print("heap: %d bytes free after the handshake" % gc.mem_free())
    if not base:
        print("sensocampus: no location for this device yet: nothing to publish")
    app = App(cfg, mac, creds, base, modules, feed, ntp)
    # This frame lives as long as the loop: the documents the set-up read go now.
    del cfg, creds, modules
    _unload("neocampus.ids")
    app.loop()


class App:
    def __init__(self, cfg, mac, creds, base, modules, feed, ntp):
        from neocampus.module import Module
        now = time.ticks_ms()
        # Every attribute set first, so the instance's table reaches its size
        # before the set-up's other allocations (it does not grow later).
        self.wifi, self.feed, self.ntp = cfg.get("wifi"), feed, ntp
        self.base = base or "_unconfigured/" + mac.replace(":", "")
        self.board = cfg.get("board") or ("esp32" if sys.platform == "esp32" else "esp8266")
        self.device = self.link = None
        self.modules = []
        self.sensors = []  # [module, index, driver, quantity, due]
        self.inputs = []   # [module, Pin, gpio, type, last level]
        self.state = "starting"
        self.next_status = self.wifi_check = now
        # Reading counter, kept across reboots: its limit is reserved on the
        # flash a block ahead, so a reboot skips at most SEQ_BLOCK numbers.
        self.seq = self.seq_end = store.load("seq.json", 0) or 0
        self._cache = [None, None, 0]   # driver, its last read(), when
        dev = {}
        for mc in modules:
            if mc["module"] == "device":
                dev = mc
        self.device = Module("device", mac, dev, now)
        self.device.restore(store.load("module_device.json"))
        self.modules.append(self.device)
        # The MQTT client (its tables are among the biggest blocks the board
        # keeps) before the scan's transients can split the free space.
        from neosensor.link import Link
        self.link = Link(creds, mac, self.base, self._on_message,
                         payload.status("device", self.device.frequency, 0, "", mac, status="offline"))
        sda, scl = PINS.get(self.board, PINS["esp8266"])
        from neosensor import chips
        found = chips.find(machine.SoftI2C(scl=machine.Pin(scl), sda=machine.Pin(sda)))
        _unload("neosensor.chips", "drivers.scan")
        print("i2c: %s" % ", ".join("%s@0x%02x" % (d.CHIP, d.address) for d in found))
        if cfg.get("sandbox") and not modules:
            # No registry in sandbox mode: a module for each quantity on the bus.
            for name in ("temperature", "humidity", "luminosity", "airquality"):
                if any(QUANTITY[name] in d.QUANTITIES for d in found):
                    modules.append({"module": name, "params": {}})
        for mc in modules:
            name = mc["module"]
            if name == "device":
                continue
            q = QUANTITY.get(name)
            if q is None and name != "digital":
                print("module %s: not supported by this firmware yet" % name)
                continue
            m = Module(name, mac, mc, now)
            m.restore(store.load("module_%s.json" % name))
            self.modules.append(m)
            if name == "digital":
                self._digital(m, mc.get("params") or {})
                continue
            for d in found:
                if q in d.QUANTITIES:
                    # airquality names its sensors by gas (subID "co2"), others by I2C address.
                    sub = q if name == "airquality" else d.address
                    self.sensors.append([m, m.add_sensor(sub, d.CHIP, now), d, q, now])
            if not m.sensors:
                print("module %s: no chip for it on the bus" % name)

    def _digital(self, m, params):
        # Inputs from params: "input" (a GPIO or a list of them), "type"
        # (presence, on_off or open_close); published on every change.
        pins = params.get("input", params.get("inputs"))
        kind = params.get("type") or "presence"
        for pin in (pins if isinstance(pins, list) else [pins]):
            if isinstance(pin, int) and not isinstance(pin, bool):
                self.inputs.append([m, machine.Pin(pin, machine.Pin.IN), pin, kind, None])
            else:
                m.errors += 1
                print("module digital: bad input param %r" % (pin,))

    def _poll_inputs(self, force_module=None):
        for d in self.inputs:
            v = bool(d[1].value())
            if v != d[4] or d[0] is force_module:
                d[4] = v
                m = d[0]
                self.publish(m.topic(self.base), payload.reading(
                    "digital", v, m.unit_id, None, self._next_seq(), self._stamp(), False, input=d[2], type=d[3]))

    def _next_seq(self):
        n = self.seq
        self.seq = n + 1
        if n >= self.seq_end:
            self.seq_end = n + SEQ_BLOCK
            store.save("seq.json", self.seq_end)
        return n

    # -- time -------------------------------------------------------------------
    def _time_str(self):
        return payload.format_time(time.gmtime())

    def _stamp(self):
        return _unix_time() if self.ntp else None

    # -- publishing -------------------------------------------------------------
    def publish(self, topic, parts):
        ok = self.link.publish(topic, parts)
        # Part by part: no copy of the payload joined in one more string.
        print("pub", topic, end=" ")
        for p in parts:
            print(p, end="")
        print("" if ok else " (not sent)")
        return ok

    def status(self, m):
        if m is self.device:
            errors = foreign = 0
            for x in self.modules:
                errors += x.errors
                foreign += x.foreign
            gc.collect()
            parts = m.status(self._time_str(), (
                ("status", self.state), ("modules", [x.name for x in self.modules if x is not m]),
                ("heap", gc.mem_free()), ("hardware", sys.platform), ("firmware", REVISION),
                ("board", self.board), ("foreign_commands", foreign), ("bad_commands", errors),
                ("mqtt_connects", self.link.connects)))
        else:
            parts = m.status(self._time_str())
        self.publish(m.topic(self.base), parts)

    # -- commands ---------------------------------------------------------------
    def _on_message(self, topic, msg):
        parts = topic.decode().split("/")
        name = parts[-2] if len(parts) >= 3 else ""
        for m in self.modules:
            if m.name == name:
                break
        else:
            self.device.errors += 1
            print("command on %s ignored: no module %r here" % (topic.decode(), name))
            return
        cmd = m.command(msg)
        if cmd is None:
            return
        print("command %s: %s %r" % (name, cmd.order, cmd.value))
        order = cmd.order
        if order == "acquire":
            self._poll_inputs(m)
            now = time.ticks_ms()
            for s in self.sensors:
                if s[0] is m:
                    s[4] = now
        elif order == "frequency":
            store.save("module_%s.json" % name, m.settings())
            if m is self.device:
                self.next_status = time.ticks_add(time.ticks_ms(), m.frequency * 1000)
        elif order in ("restart", "reboot"):
            self.state = "rebooting"
            self.status(m)
            time.sleep_ms(100)
            machine.reset()
        elif order == "upgrade":
            print("upgrade: not in this firmware yet (part 2)")
        if order in ("status", "frequency", "upgrade"):
            self.status(m)

    # -- sampling -----------------------------------------------------------------
    def _read(self, drv, q, now):
        c = self._cache
        # One chip read serves every module it feeds (SHT3x: temperature and humidity).
        if c[0] is not drv or time.ticks_diff(now, c[2]) > 100:
            try:
                c[1] = drv.read()
            except Exception as e:  # SensorError, or a bus OSError: no made-up value
                print("%s@0x%02x: %s" % (drv.CHIP, drv.address, e))
                c[1] = None
            c[0], c[2] = drv, now
        return c[1][q] if c[1] else None

    def _sample(self, now):
        soonest = 200
        for s in self.sensors:
            m, i, drv, q, due = s
            left = time.ticks_diff(due, now)
            if left > 0:
                soonest = min(soonest, left)
                continue
            value = self._read(drv, q, now)
            parts = m.feed(i, value, now, seq=self.seq, timestamp=self._stamp())
            if parts is not None:
                self._next_seq()
                self.publish(m.topic(self.base), parts)
            wait = m.sensors[i][2].sample_interval(now)
            s[4] = time.ticks_add(now, wait)
            soonest = min(soonest, wait)
        return soonest

    def _connected(self, now):
        for m in self.modules:
            m.start(now)
        for s in self.sensors:
            s[4] = now
        for d in self.inputs:
            d[4] = None  # the current levels go out again on each connection
        self.status(self.device)
        self.next_status = time.ticks_add(now, self.device.frequency * 1000)
        if self.state == "starting":
            self.state = "running"
            # The change starting -> running is a status change: announced once
            # the fast-start burst has put the first readings out.
            self.next_status = time.ticks_add(now, 3000)
            try:  # a working link: this boot counts as a good one
                import os
                os.remove("crash.count")
            except OSError:
                pass

    def loop(self):
        backoff = 1000
        while True:
            self.feed()
            now = time.ticks_ms()
            if not self.link.up:
                if not wifi.connected():
                    wifi.connect(self.wifi, 20000, self.feed)
                if self.link.connect():
                    backoff = 1000
                    self._connected(time.ticks_ms())
                else:
                    _wait(backoff, self.feed)
                    backoff = min(backoff * 2, 60000)
                    continue
            now = time.ticks_ms()
            if time.ticks_diff(now, self.wifi_check) >= 0:
                # A dropped Wi-Fi link: drop MQTT too, rejoin, reconnect.
                self.wifi_check = time.ticks_add(now, 2000)
                if not wifi.connected():
                    print("wifi: link lost")
                    self.link.close()
                    continue
            self.link.poll()
            now = time.ticks_ms()
            if time.ticks_diff(now, self.next_status) >= 0:
                self.next_status = time.ticks_add(now, self.device.frequency * 1000)
                self.status(self.device)
            if self.inputs:
                self._poll_inputs()
            wait = self._sample(now)
            # A collection every turn keeps the run-time objects that outlive
            # a turn (windows, cached reads) low in the heap, next to each
            # other: left to collect only when full, they end up strewn over
            # all of it and a 200-byte block can no longer be found.
            gc.collect()
            if wait > 0:
                time.sleep_ms(min(wait, 200))
