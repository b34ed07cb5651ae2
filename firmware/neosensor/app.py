# The loop phase of a boot: built from the plan that setup.py wrote (and
# build.py takes), it samples the chips by the policy of neocampus/, publishes
# on ONE MQTT link and obeys commands. Everything it writes to flash is
# atomic (store.py).
import gc
import sys
import time
import machine
from micropython import const
from neocampus import payload
from neosensor import link, pause, store, unload, wifi

# const() with a leading underscore: folded into the code, no global.
_REVISION = const(261201)  # firmware revision, YYMMDD as the OTA manifests
_SEQ_BLOCK = const(64)     # seq persisted once per block, not per publish


def run():
    wdt = machine.WDT(timeout=30000)
    # The code the loop keeps, loaded first: its long-lived objects then sit
    # together at the bottom of the heap, below the set-up's transients (the
    # plan's documents among them). Loading the plan and the drivers before
    # it was measured worse (36-38k failed in the loop instead of at 37k).
    import neocampus.commands
    import neocampus.module
    from neosensor import build
    app = build.app(App, wdt.feed)
    del build
    unload("neosensor.build")
    app.loop()


class App:
    def __init__(self, plan, feed, now):
        # Every attribute set first, so the instance's table reaches its size
        # before the set-up's other allocations (it does not grow later).
        self.wifi, self.feed, self.ntp = plan["wifi"], feed, plan["ntp"]
        self.base, self.board = plan["base"], plan["board"]
        self.device = None
        self.modules = []
        self.sensors = []  # [module, index, driver, quantity, due]
        self.inputs = []   # [module, Pin, gpio, type, last level]
        self.noises = []   # neosensor.noise.Noise, one per noise module
        self.wanted = []   # modules whose status an order asked for
        self.state = "starting"
        self.next_status = self.wifi_check = now
        # Reading counter, kept across reboots: its limit is reserved on the
        # flash a block ahead, so a reboot skips at most _SEQ_BLOCK numbers.
        self.seq = self.seq_end = store.load("seq.json", 0) or 0
        self._cache = [None, None, 0]   # driver, its last read(), when

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
            self.seq_end = n + _SEQ_BLOCK
            store.save("seq.json", self.seq_end)
        return n

    def _stamp(self):
        """UNIX seconds once NTP succeeded (a board's epoch may be 2000), else None."""
        if self.ntp:
            t = time.time()
            return t + 946684800 if time.gmtime(0)[0] == 2000 else t

    # -- publishing -------------------------------------------------------------
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
                "memory_errors", link.nomem))
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
            order = cmd[0]
            print("command %s: %s %r" % (name, order, cmd[1]))
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
                # Carried out by the loop once this message is done with,
                # whatever the status announcing it meets (see loop()).
                self.state = "rebooting"
            elif order == "upgrade":
                print("upgrade: not in this firmware yet (part 2)")
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
            try:
                self.feed()
                now = time.ticks_ms()
                if not link.up:
                    if self.state == "rebooting":
                        break  # ordered, and no link left to announce it on
                    if not wifi.connected():
                        wifi.connect(self.wifi, 20000, self.feed)
                    if link.connect():
                        backoff = 1000
                        self._connected(time.ticks_ms())
                    else:
                        pause(backoff, self.feed)
                        backoff = min(backoff * 2, 60000)
                        continue
                now = time.ticks_ms()
                if time.ticks_diff(now, self.wifi_check) >= 0:
                    # A dropped Wi-Fi link: drop MQTT too, rejoin, reconnect.
                    self.wifi_check = time.ticks_add(now, 2000)
                    if not wifi.connected():
                        print("wifi: link lost")
                        link.close()
                        continue
                link.poll()
                while self.wanted:
                    self.status(self.wanted.pop(0))
                if self.state == "rebooting":
                    break
                now = time.ticks_ms()
                if time.ticks_diff(now, self.next_status) >= 0:
                    self.next_status = time.ticks_add(now, self.device.frequency * 1000)
                    self.status(self.device)
                if self.inputs:
                    self._poll_inputs()
                for n in self.noises:
                    n.poll(self, now)
                wait = self._sample(now)
                # A collection every turn keeps the run-time objects that outlive
                # a turn (windows, cached reads) low in the heap, next to each
                # other: left to collect only when full, they end up strewn over
                # all of it and a 200-byte block can no longer be found.
                gc.collect()
                if wait > 0:
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
