# The loop phase of a boot: built from the boot plan that setup.py wrote (and
# assemble.py takes), it samples the chips by the policy of neocampus/, publishes
# on ONE MQTT link and obeys commands. Everything it writes to flash is
# atomic (store.py). Readings go through the outbox (outbox.py): on the
# flash first, sent at QoS 1, kept through outages and resets until the
# broker acknowledged them.
import gc
import sys
import time
import machine
from micropython import const
from neocampus import payload
from neosensor import link, outbox, pause, store, unload, watchdog_ms, wifi

# const() with a leading underscore: folded into the code, no global.
_REVISION = const(261201)  # firmware revision, YYMMDD as the OTA manifests
_SEQ_BLOCK = const(64)     # seq persisted once per block, not per publish
_DRAIN = const(8)          # outbox records sent per loop turn, at most
_BACKOFF_MAX = const(60000)

# App.sensors: one list per (sensor, module) it feeds.
_S_MODULE = const(0)       # the Module
_S_INDEX = const(1)        # the sensor's index in that Module
_S_DRIVER = const(2)
_S_QUANTITY = const(3)     # the key of driver.read()'s dict
_S_DUE = const(4)          # ticks_ms of its next read
# App.inputs: one list per digital input.
_I_MODULE = const(0)
_I_PIN = const(1)          # machine.Pin
_I_GPIO = const(2)         # its number, in the payload
_I_TYPE = const(3)         # presence, on_off, open_close
_I_LEVEL = const(4)        # last level published, None: publish the next
# App._cache: the last chip read, shared by the modules it feeds.
_C_DRIVER = const(0)
_C_VALUES = const(1)       # driver.read()'s dict, None when the read failed
_C_WHEN = const(2)


def run():
    wdt = machine.WDT(timeout=watchdog_ms(store.load("config.json")))
    gc.collect()  # the config read for it gone before the loop's code lands at the bottom
    # The code the loop keeps, loaded first: its long-lived objects then sit
    # together at the bottom of the heap, below the set-up's transients (the
    # plan's documents among them). Loading the plan and the drivers before
    # it was measured worse (36-38k failed in the loop instead of at 37k).
    import neocampus.commands
    import neocampus.module
    from neosensor import assemble
    app = assemble.app(App, wdt.feed)
    del assemble
    unload("neosensor.assemble", "neosensor.plan")
    app.loop()


class App:
    def __init__(self, plan, feed, now):
        # Every attribute set first, so the instance's table reaches its size
        # before the set-up's other allocations (it does not grow later).
        self.wifi, self.feed, self.ntp = plan["wifi"], feed, plan["ntp"]
        self.base, self.board = plan["base"], plan["board"]
        self.device = None
        self.modules = []
        self.sensors = []  # records, _S_* indexes
        self.inputs = []   # records, _I_* indexes
        self.noises = []   # neosensor.noise.Noise, one per noise module
        self.wanted = []   # modules whose status an order asked for
        self.state = "starting"
        self.next_status = self.wifi_check = now
        self.seq = self.seq_end = 0
        self.ring = plan.get("outbox") or 256
        self.failed_update = plan.get("failed_update")
        self._cache = [None, None, 0]   # _C_* indexes

    def open_outbox(self):
        """The outbox opened, once the plan's documents are gone (assemble.py's
        last step), and the reading counter set: the outbox's newest record
        has the last one used; its limit is also reserved on the flash a
        block ahead, for a board whose outbox file was lost."""
        self.seq_end = store.load("seq.json", 0) or 0
        outbox.open_ring(self.ring)
        self.seq = outbox.seq + 1 if outbox.seq >= 0 else self.seq_end
        if self.seq > self.seq_end:
            self.seq_end = self.seq

    def add_sensor(self, m, index, driver, quantity, now):
        self.sensors.append([m, index, driver, quantity, now])

    def add_input(self, m, pin, gpio, kind):
        self.inputs.append([m, pin, gpio, kind, None])

    def _poll_inputs(self, force_module=None):
        for d in self.inputs:
            v = bool(d[_I_PIN].value())
            if v != d[_I_LEVEL] or d[_I_MODULE] is force_module:
                d[_I_LEVEL] = v
                m = d[_I_MODULE]
                seq = self._next_seq()
                self.send(m, payload.reading("digital", v, m.unit_id, None, seq, self._stamp(), False,
                                             input=d[_I_GPIO], type=d[_I_TYPE]), seq)

    def _next_seq(self):
        n = self.seq
        self.seq = n + 1
        if n >= self.seq_end:
            self.seq_end = n + _SEQ_BLOCK
            store.save("seq.json", self.seq_end)
        return n

    def _stamp(self):
        """UNIX seconds once NTP succeeded (a board's epoch may be 2000), else None."""
        if self.ntp:
            t = time.time()
            return t + 946684800 if time.gmtime(0)[0] == 2000 else t

    # -- publishing -------------------------------------------------------------
    def send(self, m, parts, seq):
        """A reading of module m: into the outbox, which _drain() empties."""
        topic = m.topic(self.base)
        kept = outbox.put(topic, parts, seq)
        print("pub", topic, end=" ")
        for p in parts:
            print(p, end="")
        print("" if kept and link.up else " (queued)" if kept else " (lost)")

    def _drain(self):
        # Oldest first, each sent at QoS 1 and removed once acknowledged; a
        # few per turn, so that a long queue after an outage leaves the loop
        # answering commands and feeding the watchdog.
        for _ in range(_DRAIN):
            if not (link.up and outbox.queued()):
                return
            topic = outbox.peek()
            if topic is not None:
                if not link.publish(topic, outbox.parts, 1):
                    return
                topic = outbox.parts[0] = None
                outbox.done()
            self.feed()

    def publish(self, topic, parts):
        ok = link.publish(topic, parts)
        # Part by part: no copy of the payload joined in one more string.
        print("pub", topic, end=" ")
        for p in parts:
            print(p, end="")
        print("" if ok else " (not sent)")
        return ok

    def status(self, m):
        if m is self.device:
            errors = foreign = 0
            names = []
            for x in self.modules:
                errors += x.errors
                foreign += x.foreign
                if x is not m:
                    names.append(x.name)
            gc.collect()
            parts = m.status(payload.format_time(time.gmtime()), (
                "status", self.state, "modules", names, "heap", gc.mem_free(),
                "hardware", sys.platform, "firmware", _REVISION, "board", self.board,
                "foreign_commands", foreign, "bad_commands", errors, "mqtt_connects", link.connects,
                "memory_errors", link.nomem, "queued", outbox.queued(), "dropped", outbox.dropped,
                "update_failed", self.failed_update))
        else:
            fields = ()
            for n in self.noises:
                if n.m is m:
                    fields = n.fields()
            parts = m.status(payload.format_time(time.gmtime()), fields)
        self.publish(m.topic(self.base), parts)

    # -- commands ---------------------------------------------------------------
    def _on_message(self, topic, msg):
        try:
            parts = topic.decode().split("/")
            name = parts[-2] if len(parts) >= 3 else ""
            parts = None  # not kept through the order's status: a device status is the loop's peak
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
            order, value = cmd
            print("command %s: %s %r" % (name, order, value))
            if order == "acquire":
                self._poll_inputs(m)
                now = time.ticks_ms()
                for s in self.sensors:
                    if s[_S_MODULE] is m:
                        s[_S_DUE] = now
            elif order == "frequency":
                store.save("module_%s.json" % name, m.settings())
                if m is self.device:
                    self.next_status = time.ticks_add(time.ticks_ms(), m.frequency * 1000)
            elif order in ("restart", "reboot", "upgrade"):
                # Carried out by the loop once this message is done with,
                # whatever the status announcing it meets (see loop()); an
                # upgrade is the set-up's update check (ota.py), its URL kept.
                if value:
                    store.save("upgrade.json", {"url": value})
                self.state = "rebooting"
            for n in self.noises:
                if n.m is m:  # its hardware's part: DAC threshold, counting period
                    n.order(self, cmd, time.ticks_ms())
            if order in ("status", "frequency", "upgrade", "sensitivity", "threshold", "restart",
                         "reboot") and m not in self.wanted:
                # Published by the loop once this message is done with: a device
                # status is the loop's biggest transient, best not made on top
                # of an MQTT message and its parsed order.
                self.wanted.append(m)
        except MemoryError:
            # Raised here, the message was read whole: the link's stream is
            # intact and only this order is lost (said, counted, not half done:
            # a reset is carried out by the loop, a status sent by the loop).
            link.nomem += 1
            print("command dropped: out of memory")

    # -- sampling -----------------------------------------------------------------
    def _read(self, drv, q, now):
        c = self._cache
        # One chip read serves every module it feeds (SHT3x: temperature and humidity).
        if c[_C_DRIVER] is not drv or time.ticks_diff(now, c[_C_WHEN]) > 100:
            try:
                c[_C_VALUES] = drv.read()
            except Exception as e:  # SensorError, or a bus OSError: no made-up value
                print("%s@0x%02x: %s" % (drv.CHIP, drv.address, e))
                c[_C_VALUES] = None
            c[_C_DRIVER], c[_C_WHEN] = drv, now
        values = c[_C_VALUES]
        return values[q] if values else None

    def _sample(self, now):
        soonest = 200
        for s in self.sensors:
            left = time.ticks_diff(s[_S_DUE], now)
            if left > 0:
                soonest = min(soonest, left)
                continue
            m, i = s[_S_MODULE], s[_S_INDEX]
            value = self._read(s[_S_DRIVER], s[_S_QUANTITY], now)
            parts = m.feed(i, value, now, seq=self.seq, timestamp=self._stamp())
            if parts is not None:
                self.send(m, parts, self._next_seq())
            wait = m.sample_interval(now, i)
            s[_S_DUE] = time.ticks_add(now, wait)
            soonest = min(soonest, wait)
        return soonest

    def _connected(self, now):
        for m in self.modules:
            m.start(now)
        for s in self.sensors:
            s[_S_DUE] = now
        for d in self.inputs:
            d[_I_LEVEL] = None  # the current levels go out again on each connection
        self.status(self.device)
        self.next_status = time.ticks_add(now, self.device.frequency * 1000)
        if self.state == "starting":
            self.state = "running"
            # The change starting -> running is a status change: announced once
            # the fast-start burst has put the first readings out.
            self.next_status = time.ticks_add(now, 3000)
            # A working link: this boot counts as a good one, and an
            # update on trial (ota.py) has passed.
            import os
            for name in ("crash.count", "ota.json"):
                try:
                    os.remove(name)
                except OSError:
                    pass

    def loop(self):
        backoff = 1000
        retry = time.ticks_ms()
        while True:
            try:
                self.feed()
                now = time.ticks_ms()
                if not link.up:
                    if self.state == "rebooting":
                        break  # ordered, and no link left to announce it on
                    # Reconnection at its time only: meanwhile the board goes
                    # on sampling, its readings kept in the outbox.
                    if time.ticks_diff(now, retry) >= 0:
                        if (wifi.connected() or wifi.connect(self.wifi, 20000, self.feed)) and link.connect():
                            backoff = 1000
                            self._connected(time.ticks_ms())
                            # The connection's status out, the first readings in a
                            # turn of their own: the loop's two biggest transients
                            # (a device status, a turn of fast-start readings) never
                            # share the heap.
                            gc.collect()
                            continue
                        else:
                            # Exponential, capped, with jitter (0.5 to 1.5 times):
                            # boards of a building that lost its broker do not
                            # all come back in the same second.
                            retry = time.ticks_add(time.ticks_ms(), backoff // 2 + time.ticks_us() % backoff)
                            backoff = min(backoff * 2, _BACKOFF_MAX)
                elif time.ticks_diff(now, self.wifi_check) >= 0:
                    # A dropped Wi-Fi link: drop MQTT too, rejoin, reconnect.
                    self.wifi_check = time.ticks_add(now, 2000)
                    if not wifi.connected():
                        print("wifi: link lost")
                        link.close()
                        continue
                if link.up:
                    link.poll()
                    while self.wanted:
                        self.status(self.wanted.pop(0))
                    if self.state == "rebooting":
                        break
                    now = time.ticks_ms()
                    if time.ticks_diff(now, self.next_status) >= 0:
                        self.next_status = time.ticks_add(now, self.device.frequency * 1000)
                        self.status(self.device)
                now = time.ticks_ms()
                if self.inputs:
                    self._poll_inputs()
                for n in self.noises:
                    n.poll(self, now)
                wait = self._sample(now)
                self._drain()
                # A collection every turn keeps the run-time objects that outlive
                # a turn (windows, cached reads) low in the heap, next to each
                # other: left to collect only when full, they end up strewn over
                # all of it and a 200-byte block can no longer be found.
                gc.collect()
                # No nap while a backlog is draining (and the link is up to take it).
                if wait > 0 and not (link.up and outbox.queued()):
                    time.sleep_ms(min(wait, 200))
            except MemoryError:
                # A transient that did not fit: this turn's work is dropped (a
                # reading is taken again, a status sent at the next period)
                # and counted; the loop goes on.
                link.nomem += 1
                print("loop: out of memory")
                gc.collect()
                if self.state == "rebooting":
                    break
        # A restart order: reset, whether or not its status found the room to go out.
        time.sleep_ms(100)
        machine.reset()
