"""The agent: handshake, outbox, MQTT transport, roles, orders, status, in
one loop on the main thread, which also drives the MQTT client (its socket
is in the loop's select()); every decision is taken here.

    a = Agent(cfg, hw)            # cfg: rpi_agent.config.load(...)
    a.setup()                     # handshake (retried), outbox, roles, MQTT
    a.run(stop)                   # until stop.is_set() or a restart order
"""
import collections
import logging
import os
import platform
import sys
import threading
import time

from neocampus import payload
from neocampus.module import Module
from rpi_agent import __version__, handshake, orders, store
from rpi_agent.metrics import Metrics
from rpi_agent.notify import Notifier
from rpi_agent.outbox import Outbox
from rpi_agent.transport import Transport
from rpi_agent.wakeup import Wakeup

log = logging.getLogger("rpi_agent")


def ms():
    return int(time.monotonic() * 1000)


class Seq:
    """The next reading number, offered (next) and taken (take()), as the
    firmware's App numbers readings; starts where the outbox left off."""

    def __init__(self, start):
        self.next = start

    def take(self):
        n = self.next
        self.next = n + 1
        return n


def mem_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class Agent:
    def __init__(self, cfg, hw=None, notifier=None, metrics=None):
        self.cfg = cfg
        self.hw = hw
        self.notifier = notifier or Notifier()
        self.metrics = metrics or Metrics()
        self.roles = []
        self.modules = []
        self.state = "starting"
        self.exit = None          # "restart" or "reboot" once ordered
        self.bad_messages = 0
        self.lost = 0             # readings that could not be stored (a full disk), in the status
        self.inbox = collections.deque()  # (topic, payload) from paho's thread; append/popleft are atomic
        self._connected = threading.Event()
        # What the loop sleeps on: set by the other threads (something to do), and the serial lines' fds.
        self.wake = Wakeup()
        self.transport = None
        self.outbox = None
        self.sensors = None
        self.display = None
        self.concentrator = None
        self.stop_event = threading.Event()

    # -- set-up --------------------------------------------------------------------
    def setup(self, stop=None):
        a = self.cfg["agent"]
        self.mac = a["mac"] or handshake.interface_mac(a["interfaces"])
        http = self.http = handshake.Http(ca_file=self.cfg["mqtt"]["ca_file"])
        t0 = time.monotonic()
        got = handshake.run(http, a["server"], self.mac, a["credentials"], self.cfg["mqtt"]["server"],
                            self.cfg["mqtt"]["port"], a["handshake_retry"], stop or self.stop_event.is_set)
        if got is None:
            return False
        self.metrics.handshake.set(time.monotonic() - t0)
        self.creds, conf = got
        self.base = conf.base_topic or "_unconfigured/" + self.mac.replace(":", "")
        if not conf.base_topic:
            log.warning("sensOCampus gives this device no location yet: publishing under %s", self.base)
        log.info("sensOCampus: %s, topic %s, %d modules", self.creds["mqtt_login"], self.base, len(conf.modules))
        if a["log_to_server"]:
            from rpi_agent.logship import ServerLogHandler
            self.log_handler = ServerLogHandler(http, a["server"], self.creds["mqtt_login"], self.creds["mqtt_passwd"])
            logging.getLogger().addHandler(self.log_handler)
        now = ms()
        dev_conf = conf.module("device")
        self.device = Module("device", self.mac, dev_conf, now, log=log.warning)
        self.device.restore(store.load_json(self._settings_path("device")))
        self.modules = [self.device]
        ob = self.cfg["outbox"]
        self.outbox = Outbox(ob["path"], ob["max_readings"], ob["sync"], ob["sync_window"])
        self.seq = Seq(self.outbox.seq)
        if len(self.outbox):
            log.info("outbox: %d readings kept from before, sent first", len(self.outbox))
        self._roles(conf, now)
        m = self.cfg["mqtt"]
        port = self.creds.get("mqtt_port") or m["port"]
        will = payload.status("device", self.device.frequency, 0, "", self.mac, status="offline")
        self.transport = t = Transport(
            self.outbox, "rpi_agent_" + self.mac.replace(":", ""), self.creds.get("mqtt_server") or m["server"],
            port, self.creds["mqtt_login"], self.creds["mqtt_passwd"], self.base + "/device", will,
            tls=m["tls"] or port == 8883, ca_file=m["ca_file"], keepalive=m["keepalive"],
            backoff_max=m["backoff_max"], on_message=self._on_message, on_connect=self._on_connect,
            metrics=self.metrics, wake=self.wake)
        t.subscribe(self.base + "/+/command")
        if self.display is not None:
            for topic in self.display.topics():
                t.subscribe(topic)
        self.metrics.watch(self.outbox, t)
        listen = self.cfg["metrics"]["listen"]
        if listen:
            self.metrics_port = self.metrics.serve(*listen)
            log.info("metrics on http://%s:%d/metrics", listen[0], self.metrics_port)
        return True

    def _settings_path(self, name):
        return os.path.join(self.cfg["agent"]["state_dir"], "module_%s.json" % name)

    def _roles(self, conf, now):
        roles = self.cfg["agent"]["roles"]
        if "sensors" in roles:
            from rpi_agent import chips, sensors
            s = self.cfg["sensors"]
            unknown = []
            found = chips.find(self.hw, unknown)
            log.info("i2c: %s", ", ".join("%s@0x%02x" % (c.CHIP, c.address) for c in found) or "no chip found")
            for addr, why in unknown:
                log.warning("i2c: 0x%02x answers but is not identified: %s", addr, why)
            confs = sensors.module_configs(conf, found, s["inputs"])
            self.sensors = sensors.SensorsRole(self.hw, self.mac, self.base, confs, found, s["inputs"],
                                               s["outputs"], now)
            self.sensors.watch(self.wake.set)
            self.roles.append(self.sensors)
            self.modules += self.sensors.modules
        if "concentrator" in roles:
            from rpi_agent.concentrator import ConcentratorRole
            self.concentrator = ConcentratorRole(self.cfg["concentrator"], self.mac, self.base, self.wake.set)
            self.concentrator.start(self.wake)
            self.roles.append(self.concentrator)
        if "display" in roles:
            from rpi_agent.display import DisplayRole
            # The registry's rooms for this display first, then the config's, then its own room.
            rooms = getattr(conf, "rooms", None) or self.cfg["display"]["rooms"] or [self.base]
            self.display = DisplayRole(self.cfg, rooms)
            self.display.start()
            self.roles.append(self.display)
        for m in self.modules[1:]:
            m.restore(store.load_json(self._settings_path(m.name)))

    # -- messages (paho's callbacks, in the loop's wait: hand over only) -------------------
    def _on_connect(self):
        self._connected.set()
        self.wake.set()

    def _on_message(self, topic, raw):
        if self.display is not None and not topic.endswith("/command"):
            self.display.feed(topic, raw)  # readings of the rooms shown: the display's own lock
            return
        if len(self.inbox) >= 1000:
            self.bad_messages += 1  # a flood: dropped, counted
            return
        self.inbox.append((topic, raw))
        self.wake.set()

    def _order(self, topic, raw):
        name = orders.module_of(topic, self.base)
        m = next((x for x in self.modules if x.name == name), None)
        if m is None:
            self.device.errors += 1
            self.metrics.bad_input.labels("order").inc()
            log.warning("command on %s ignored: no module %r here", topic, name)
            return
        if m.name == "digital" and self.sensors is not None:
            try:
                got = orders.parse_set(raw, m.unit_id, self.sensors.outputs)
            except ValueError as e:
                m.errors += 1
                self.metrics.bad_input.labels("order").inc()
                log.warning("digital: command ignored: %s", e)
                return
            if got is not None:
                if got[0] == "foreign":
                    m.foreign += 1
                    return
                name, value = got[1]
                log.info("command digital: set %s %s", name, value)
                self.sensors.set_output(name, value)
                self.wanted.append(m)
                return
        errors = m.errors
        cmd = m.command(raw)
        if m.errors > errors:
            self.metrics.bad_input.labels("order").inc()
        if cmd is None:
            return
        order, value = cmd
        log.info("command %s: %s %r", m.name, order, value)
        if order == "acquire" and self.sensors is not None:
            self.sensors.acquire(m, ms())
            self._force_inputs = m
        elif order == "frequency":
            store.save_json(self._settings_path(m.name), m.settings(), 0o644)
            if m is self.device:
                self.next_status = ms() + m.frequency * 1000
        elif order in ("restart", "reboot"):
            self.state = "rebooting"
            self.exit = order
        elif order == "upgrade":
            log.warning("upgrade: the agent is upgraded by apt/pip, not over MQTT")
        if order != "acquire" and m not in self.wanted:
            self.wanted.append(m)

    # -- status ------------------------------------------------------------------------
    def status(self, m):
        t = payload.format_time(time.gmtime())
        if m is self.device:
            errors = sum(x.errors for x in self.modules)
            foreign = sum(x.foreign for x in self.modules)
            fields = ["status", self.state, "modules", [x.name for x in self.modules if x is not m],
                      "heap", mem_available(), "hardware", platform.machine(), "firmware", "rpi_agent-" + __version__,
                      "board", self.hw.board() if self.hw else "none", "foreign_commands", foreign,
                      "bad_commands", errors + self.bad_messages, "mqtt_connects", self.transport.connects,
                      "memory_errors", 0, "outbox", self.outbox.waiting(), "dropped", self.outbox.dropped, "lost", self.lost]
            for r in self.roles:
                fields += list(r.status_fields(m))
            return m.status(t, tuple(fields))
        fields = ()
        if self.sensors is not None:
            fields = self.sensors.status_fields(m)
        return m.status(t, fields)

    def publish_status(self, m):
        text = "".join(self.status(m))
        self.transport.publish_now(m.topic(self.base), text)

    # -- the loop ------------------------------------------------------------------------
    def step(self, now):
        """One turn; returns the readings stored."""
        self.transport.service()
        if self._connected.is_set():
            self._connected.clear()
            if self.outbox.waiting():
                self._draining = (now, self.outbox.waiting())
            for r in self.roles:
                r.on_connect(now)
            for m in self.modules:
                m.start(now)
            self.publish_status(self.device)
            self.next_status = now + self.device.frequency * 1000
            if self.state == "starting":
                self.state = "running"
                self.next_status = now + 3000  # starting -> running, announced after the first readings
        inbox = self.inbox
        for _ in range(min(50, len(inbox))):
            topic, raw = inbox.popleft()
            try:
                self._order(topic, raw)
            except Exception:  # a bug in an order's handling must not stop the Pi
                self.device.errors += 1
                log.exception("command on %s failed", topic)
        stamp = int(time.time())
        readings = []
        for r in self.roles:
            try:
                readings += r.poll(now, self.seq, stamp, self._force_inputs)
            except Exception:
                log.exception("role %s failed this turn", type(r).__name__)
        self._force_inputs = None
        ob = self.outbox
        if readings:
            self._store(readings, now)
        self.transport.pump()
        if self._draining is not None and not ob.waiting():
            t0, n = self._draining
            self._draining = None
            log.info("outbox: the %d readings waiting at the connection were sent in %.2f s", n, (now - t0) / 1000)
        if ob.acked() >= 500 or ob.acked() and now >= self._flush_due():
            ob.flush()
            self._next_flush = now + 500
        due = ob.sync_due()
        if due is not None and now >= due * 1000:
            ob.sync()
        while self.wanted:
            self.publish_status(self.wanted.popleft())
        if now >= self.next_status and self.state != "starting":
            self.next_status = now + self.device.frequency * 1000
            self.publish_status(self.device)
        return readings

    def _store(self, readings, now):
        # Acked rows go along with a later stored reading (64 of them, or 1 s
        # old; no transaction of their own while readings flow): a SIGKILL
        # before sends those few again after the restart.
        ob = self.outbox
        try:
            ob.add_many(readings, time.time(), self.transport.inflight)
        except Exception as e:  # the SD card full, the file broken: these readings are lost, not the next ones
            self.seq.next = ob.seq  # their seqs were taken: numbering goes on from what is stored
            self.lost += len(readings)
            log.error("outbox: %d readings lost, they could not be stored: %s", len(readings), e)
            return False
        self._last_store = now
        return True

    def run(self, stop=None):
        stop = stop or self.stop_event
        self.wanted = collections.deque()
        self._force_inputs = None
        self._next_flush = self._last_store = 0
        self._draining = None  # (ms, rows) while the rows kept at a connection go out
        self.next_status = ms() + 3000
        self.transport.start()
        self.notifier.ready("publishing to %s" % self.base)
        wd = self.notifier.watchdog_period
        self._next_wd = 0 if wd else None
        try:
            while not stop.is_set() and self.exit is None:
                now = ms()
                try:
                    self.step(now)
                except Exception:  # a bug met in one turn: said, counted; the loop goes on
                    self.device.errors += 1
                    log.exception("loop turn failed")
                if wd and now >= self._next_wd:
                    self.notifier.watchdog()
                    self._next_wd = now + int(wd * 1000)
                try:
                    while not self.wake.wait(self._idle(ms())):
                        pass  # a PUBACK read: nothing to do before the next turn
                except Exception:  # a serial line's read failed in a way not foreseen: said, counted, on
                    self.device.errors += 1
                    log.exception("loop wait failed")
                    stop.wait(0.1)
        finally:
            self.shutdown()
        return self.exit

    def _idle(self, now):
        """Seconds the loop may sleep: until the next thing it does on its own
        (a chip read, a status, deleting acked rows, the watchdog), 1 s at most
        (a stop is seen within it; a signal wakes it at once), or a serial port
        to open again. Everything else wakes it: bytes on a serial line (read
        in the wait), a Modbus reading, an order, a connection, a GPIO edge, a
        PUBACK while a backlog drains. No polling: every wake-up is paid for
        per reading (bench/agent.py)."""
        due = [now + 1000, self.next_status]
        t = self.transport
        d = t.next_due()
        if d is not None:
            due.append(int(d * 1000) + 1)
        if self.outbox.acked() or t._pending and t.connected.is_set():  # offline, no PUBACK comes
            due.append(self._flush_due())
        sync = self.outbox.sync_due()
        if sync is not None:
            due.append(int(sync * 1000) + 1)
        if self._next_wd is not None:
            due.append(self._next_wd)
        if self.sensors is not None:
            if self.sensors.polled and self.sensors.inputs:
                due.append(now + 50)
            d = self.sensors.next_due()
            if d is not None:
                due.append(d)
        if self.concentrator is not None:
            d = self.concentrator.next_due()
            if d is not None:
                due.append(d)
        return max(0.0, (min(due) - now) / 1000)

    def _flush_due(self):
        """When acked rows get a delete of their own: 0.5 s after the last one,
        and only once no reading was stored for 0.5 s (a stored reading takes
        them along in its transaction)."""
        return max(self._next_flush, self._last_store + 500)

    def shutdown(self):
        self.notifier.stopping()
        if self.transport is not None:
            # The last status says why we go, where the will would say only "offline".
            self.state = "rebooting" if self.exit else "stopped"
            self.transport.stop(self.base + "/device", "".join(self.status(self.device)))
            self.transport.sweep()  # acks that came since the last turn: not sent again next time
        for r in self.roles:
            r.close()
        if self.outbox is not None:
            self.outbox.close()
        if self.metrics.server is not None:
            self.metrics.server.shutdown()


def carry_out(order, simulate=False):
    """What a restart or reboot order ends in, once the agent has stopped."""
    if order == "reboot":
        if simulate:
            log.warning("reboot ordered: simulated Pi, restarting the agent instead")
        else:
            import subprocess
            log.warning("reboot ordered: systemctl reboot")
            subprocess.run(["systemctl", "reboot"], check=False)
            return 0
    if os.environ.get("NOTIFY_SOCKET"):
        return 0  # systemd (Restart=always) starts us again
    log.warning("restart ordered: starting the agent again")
    sys.stdout.flush()
    os.execv(sys.executable, sys.orig_argv)
