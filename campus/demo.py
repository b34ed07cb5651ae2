"""`neoc demo`: a small campus on one machine, in steps a user can follow.

1. stub      a sensOCampus stub on a fresh data dir (embedded broker, or Mosquitto)
2. register  the boards and Pis in two buildings and several rooms
3. agents    M simulated Pi agents (`neoc agent --simulate`): one `display`
             showing a room, the others `sensors`; each connected to the broker
             before the boards come (the display sees their first readings)
4. boards    N blank virtual boards (MicroPython, no firmware yet), with the
             chips of their room: temperature, humidity and light drifting like
             a day, noise bursts in the amphitheatre, a PIR in the meeting room
5. flash     `neoc flash socket://...` on each, as a user would (real mpremote)
6. boot      each board boots the firmware: handshake, then MQTT
then the live view until --duration or Ctrl-C, and a summary: devices
booted, readings stored per device, missing (from seq), errors.

A step that fails says which and why, and the steps after it are not run;
whatever was started is stopped in reverse order, and no process of ours is
left (campus/procs.py).
"""
import concurrent.futures
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

from campus.console import Console
from campus.procs import Parts, StepFailed, leftovers, reap
from provisioning.mosquitto import free_port

WIFI = ("neocampus-demo", "demo-pass")
# (building, room, chips of a board there, modules of its zone)
BASE_CHIPS = ["mcp9808@0x18:temperature=%s", "sht3x@0x44:temperature=%s,humidity=%s", "tsl2561@0x39:lux=%s"]
ROOMS = [
    ("U4", "Salle 302", ("19..23.5/300s", "19.5..23/300s", "40..55/400s", "150..800/240s"), ()),
    ("U4", "Amphi 1", ("18.5..21/300s", "19..21.5/300s", "45..60/400s", "80..400/240s"), ("noise",)),
    ("IRIT", "Salle de réunion", ("20..24/300s", "20.5..23.5/300s", "35..50/400s", "200..900/240s"), ("digital",)),
    ("IRIT", "Bureau 112", ("21..25/300s", "21..24.5/300s", "38..48/400s", "300..1000/240s"), ()),
]
# ESP32 boards: four modules and the noise DAC's driver fit an ESP8266's heap
# (45k in the 64-bit VM) with 1-2 KB to spare (tests/test_firmware_noise_four.py),
# too little for a demo left running; an ESP32 has ~100 KB free, about 128k of
# the 64-bit VM's (objects are larger).
BOARD = "esp32"
BOARD_HEAP = "128k"
PIR_PIN = 12
NOISE_PIN = 13
PI_ROOMS = [("U4", "Hall"), ("IRIT", "Accueil")]
FLASH_TIMEOUT = 180
BOOT_TIMEOUT = 90


def board_mac(i):
    return "02:de:a0:00:01:%02x" % (i + 1)


def pi_mac(i):
    return "02:de:a0:00:02:%02x" % (i + 1)


def board_spec(i):
    """(building, room, chips, modules) of board i."""
    building, room, (t1, t2, h, lux), extra = ROOMS[i % len(ROOMS)]
    chips = [BASE_CHIPS[0] % t1, BASE_CHIPS[1] % (t2, h), BASE_CHIPS[2] % lux]
    modules = [{"module": "temperature", "frequency": 30}, {"module": "humidity", "frequency": 30},
               {"module": "luminosity", "frequency": 15}]
    if "noise" in extra:
        chips.append("mcp47x6@0x60:noise=0..1.4/40s,pin=%d" % NOISE_PIN)
        modules.append({"module": "noise", "params": [{"param": "input", "value": NOISE_PIN}]})
    if "digital" in extra:
        modules.append({"module": "digital", "params": [{"param": "input", "value": PIR_PIN},
                                                        {"param": "type", "value": "presence"}]})
    return building, room, chips, modules


class Demo:
    def __init__(self, boards=3, pis=2, broker="embedded", duration=None, say=print, tty=False, data_dir=None,
                 open_page=False, heap=None):
        self.n_boards, self.n_pis = boards, pis
        self.broker = broker
        self.duration = duration
        self.say = say
        self.tty = tty
        self.open_page = open_page
        self.heap = heap
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="neoc-demo-")
            data_dir = self._tmp.name
        self.dir = pathlib.Path(data_dir)
        self.parts = Parts(say)
        self.stub = None
        self.boards = []      # VirtualBoard
        self.agents = []      # (name, Popen, log path)
        self.devices = []     # {"name", "mac", "kind", "where", "topic"}
        self.display_url = None
        self.errors = []
        self.failed = None    # StepFailed

    # -- steps ---------------------------------------------------------------------
    def step(self, name, fn):
        t0 = time.monotonic()
        try:
            fn()
        except StepFailed:
            raise
        except Exception as e:
            raise StepFailed(name, "%s: %s" % (type(e).__name__, e)) from e
        self.say("[%s] done in %.1f s" % (name, time.monotonic() - t0))

    def run(self):
        """All the steps, the live view, the summary: -> exit status (0 ok, 1 a step failed)."""
        stopping = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *a: stopping.set())
        try:
            # The Pis first, as on a campus where displays are always on: the display is subscribed
            # before the boards' first readings (not retained: one missed is not shown until the next).
            for name, fn in (("stub", self.start_stub), ("register", self.register), ("agents", self.start_agents),
                             ("boards", self.start_boards), ("flash", self.flash), ("boot", self.wait_boot)):
                if stopping.is_set():
                    raise KeyboardInterrupt
                self.step(name, fn)
            self.say("live page:   %s/" % self.stub.url)
            if self.display_url:
                self.say("Pi display:  %s" % self.display_url)
            if self.open_page:
                import webbrowser
                webbrowser.open(self.stub.url + "/")
            self.follow(stopping)
        except StepFailed as e:
            self.failed = e
            self.say("demo: step '%s' failed: %s" % (e.step, e.reason))
            self.say("demo: the steps after it were not run; stopping what was started")
        except KeyboardInterrupt:
            self.say("\nstopping")
        finally:
            signal.signal(signal.SIGTERM, previous)
            summary = self.summary() if self.stub is not None and self.failed is None else None
            self.stop()
        if summary:
            for line in summary:
                self.say(line)
        return 1 if self.failed else 0

    def start_stub(self):
        from provisioning.stub_process import StubServer
        # Its own session: a terminal's Ctrl-C reaches the demo only, which stops it after the summary.
        self.stub = StubServer(data_dir=self.dir / "stub", broker=self.broker, timeout=60, own_session=True)
        self.parts.add("stub", self.stub.stop)
        self.stub.start()
        self.say("sensOCampus stub on %s, %s broker on %s:%d" % (self.stub.url, self.broker, self.stub.mqtt_host,
                                                                 self.stub.mqtt_port))

    def register(self):
        admin = self.stub.admin
        for i in range(self.n_boards):
            building, room, _, modules = board_spec(i)
            d = admin.add_device(board_mac(i), location=(building, room), modules=modules)
            self.devices.append({"name": "board-%d" % (i + 1), "mac": d["mac"], "kind": "neosensor",
                                 "where": "%s / %s" % (building, room), "topic": d["topic"]})
        shown = self.devices[0]["topic"] if self.devices else None
        for i in range(self.n_pis):
            display = self.n_pis >= 2 and i == 0  # one display showing a room, the others sensors
            building, room = PI_ROOMS[i % len(PI_ROOMS)]
            if display:
                rooms = [ROOMS[0][0] + "/" + ROOMS[0][1]] if shown else None
                d = admin.add_device(pi_mac(i), location=(building, room), kind="display", rooms=rooms)
            else:
                d = admin.add_device(pi_mac(i), location=(building, room), kind="rpi",
                                     modules=["temperature", "humidity", "luminosity"])
            self.devices.append({"name": "pi-%d" % (i + 1), "mac": d["mac"], "kind": "display" if display else "pi",
                                 "where": "%s / %s" % (building, room), "topic": d["topic"]})
        self.say("registered %d boards and %d Pis in %s" % (
            self.n_boards, self.n_pis, ", ".join(sorted({d["where"].split(" / ")[0] for d in self.devices}))))

    def start_boards(self):
        from virtual_board import VirtualBoard
        for i in range(self.n_boards):
            _, _, chips, _ = board_spec(i)
            b = VirtualBoard(board_mac(i), blank=True, repl="socket://127.0.0.1:0", wifi=WIFI, chips=chips,
                             flash_dir=self.dir / ("board-%d" % (i + 1)), echo=False, board=BOARD,
                             heap=self.heap or BOARD_HEAP)
            self.parts.add("board-%d" % (i + 1), b.stop)
            self.boards.append(b)
            b.start()
        for i, b in enumerate(self.boards):
            try:
                b.wait_for(r'Type "help\(\)"', 30)
            except Exception:
                raise StepFailed("boards", "board-%d did not reach its REPL:\n%s" % (i + 1, _tail(b.lines)))
        self.say("%d blank virtual boards at their REPL (%s)" % (
            len(self.boards), ", ".join("socket://%s:%d" % b.repl for b in self.boards)))

    def flash(self):
        def one(i, b):
            port = "socket://%s:%d" % b.repl
            cmd = [sys.executable, "-m", "neoc", "flash", port, "--wifi", "%s:%s" % WIFI, "--server", self.stub.url]
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=FLASH_TIMEOUT)
            return i, port, p
        with concurrent.futures.ThreadPoolExecutor(len(self.boards) or 1) as pool:
            results = list(pool.map(lambda a: one(*a), enumerate(self.boards)))
        for i, port, p in results:
            if p.returncode != 0:
                raise StepFailed("flash", "neoc flash %s (board-%d) exited %d:\n%s" % (
                    port, i + 1, p.returncode, _tail((p.stdout + p.stderr).splitlines())))
            last = [line for line in p.stdout.splitlines() if line.startswith("flashed")]
            self.say("board-%d: %s" % (i + 1, last[-1] if last else "flashed"))

    def wait_boot(self):
        deadline = time.monotonic() + BOOT_TIMEOUT
        for i, b in enumerate(self.boards):
            try:
                _, m = b.wait_for(r"^mqtt: connected|safe mode", max(1.0, deadline - time.monotonic()))
            except Exception:
                raise StepFailed("boot", "board-%d did not connect to the broker within %d s; its console "
                                         "ends with:\n%s" % (i + 1, BOOT_TIMEOUT, _tail(b.lines)))
            if m.group(0) == "safe mode":
                raise StepFailed("boot", "board-%d went to safe mode after failed boots; its console ends "
                                         "with:\n%s" % (i + 1, _tail(b.lines)))
        self.say("%d boards running the firmware, connected" % len(self.boards))

    def start_agents(self):
        pis = [d for d in self.devices if d["kind"] in ("pi", "display")]
        for i, d in enumerate(pis):
            state = self.dir / d["name"]
            state.mkdir(parents=True, exist_ok=True)
            role = "display" if d["kind"] == "display" else "sensors"
            toml = state / "agent.toml"
            lines = ["[agent]", 'roles = ["%s"]' % role, "", "[metrics]", 'listen = ""']
            if role == "display":
                port = free_port()
                lines += ["", "[display]", 'listen = "127.0.0.1:%d"' % port]
                self.display_url = "http://127.0.0.1:%d/" % port
            toml.write_text("\n".join(lines) + "\n")
            log = open(state / "agent.log", "w")
            cmd = [sys.executable, "-m", "neoc", "agent", "--simulate", "--config", str(toml), "--server",
                   self.stub.url, "--mac", d["mac"].lower(), "--state-dir", str(state)]
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            log.close()
            self.agents.append((d["name"], p, state / "agent.log"))
            self.parts.add(d["name"], lambda p=p: _end(p))
        deadline = time.monotonic() + 60
        for name, p, logpath in self.agents:
            # Connected to the broker (and so subscribed a moment later), or gone: said with its log.
            while p.poll() is None and "connected to" not in logpath.read_text(errors="replace"):
                if time.monotonic() > deadline:
                    raise StepFailed("agents", "%s did not connect to the broker within 60 s:\n%s" % (
                        name, _tail(logpath.read_text(errors="replace").splitlines())))
                time.sleep(0.1)
            if p.poll() is not None:
                raise StepFailed("agents", "%s exited %d at start:\n%s" % (
                    name, p.returncode, _tail(logpath.read_text(errors="replace").splitlines())))
        self.say("%d simulated Pi agents started (%s)" % (len(self.agents), ", ".join(
            "%s %s" % (d["name"], d["kind"]) for d in pis)))

    # -- live view -------------------------------------------------------------------
    def follow(self, stopping):
        console = Console(self.devices, self.say, self.tty)
        by_topic = {}
        for d in self.devices:
            by_topic.setdefault(d["topic"], []).append(d)
        t0 = time.monotonic()
        last = None
        pir = False
        next_pir = t0 + 8
        while not stopping.is_set() and (self.duration is None or time.monotonic() - t0 < self.duration):
            now = time.monotonic()
            if now >= next_pir and self.boards:  # someone walks into the meeting room, and out again
                pir = not pir
                for i, b in enumerate(self.boards):
                    if "digital" in [m["module"] for m in board_spec(i)[3]]:
                        b.set_pin(PIR_PIN, 1 if pir else 0)
                next_pir = now + (6 if pir else 14)
            try:
                rows = self.stub.admin.readings(after=last, limit=1000)
                counts = {d["mac"]: d["readings"] for d in self.stub.admin.devices()}
            except Exception as e:  # the stub busy for a moment: say it, go on
                self.say("(stub: %s)" % e)
                rows, counts = [], {}
            for r in rows:
                last = max(last or 0, r["id"])
                owner = _owner(by_topic.get(r["topic"].rsplit("/", 1)[0], []), r["unitID"])
                if owner:
                    console.feed(owner["mac"], r)
            self._check_alive()
            console.show(counts, now - t0)
            stopping.wait(1.0)

    def _check_alive(self):
        for name, p, logpath in self.agents:
            if p.poll() is not None and not any(name in e for e in self.errors):
                self.errors.append("%s exited %d" % (name, p.returncode))
                self.say("%s exited %d; its log ends with:\n%s" % (
                    name, p.returncode, _tail(logpath.read_text(errors="replace").splitlines())))

    # -- end -------------------------------------------------------------------------------
    def summary(self):
        try:
            counts = {d["mac"]: d["readings"] for d in self.stub.admin.devices()}
            status = {d["mac"]: (self.stub.admin.status(d["mac"]).get("device") or {}) for d in self.devices}
            col = self.stub.admin.collector()
        except Exception as e:
            return ["summary unavailable: %s" % e]
        booted = [d for d in self.devices if counts.get(d["mac"], {}).get("received") or status.get(d["mac"])]
        lines = ["", "summary: %d/%d devices booted" % (len(booted), len(self.devices)),
                 "%-9s %-9s %-26s %8s %8s %5s" % ("device", "kind", "room", "stored", "missing", "dup")]
        for d in self.devices:
            c = counts.get(d["mac"], {})
            if d["kind"] == "display":  # it publishes no readings: it shows those of a room
                lines.append("%-9s %-9s %-26s showing %d sensors of %s" % (
                    d["name"], d["kind"], d["where"][:26], self._shown(), ROOMS[0][0] + " / " + ROOMS[0][1]))
                continue
            lines.append("%-9s %-9s %-26s %8d %8d %5d" % (d["name"], d["kind"], d["where"][:26],
                                                          c.get("received", 0), c.get("missing", 0),
                                                          c.get("duplicates", 0)))
        invalid = col["counters"].get("invalid", 0)
        errors = list(self.errors) + (["collector rejected %d messages" % invalid] if invalid else [])
        lines.append("errors: %s" % ("; ".join(errors) if errors else "none"))
        return lines

    def _shown(self):
        """Sensors with a value on the Pi display's page (its /api/state)."""
        import requests
        try:
            state = requests.get(self.display_url + "api/state", timeout=5).json()
        except (requests.RequestException, ValueError):
            return 0
        return sum(1 for x in state.get("sensors", []) if x.get("value") is not None)

    def stop(self):
        self.parts.stop_all()
        left = reap()
        if left:
            self.errors.append("%d processes had to be ended at exit" % len(left))
            self.say("ended %d leftover processes: %s" % (len(left), "; ".join(c[:80] for _, c in left)))
        if self._tmp is not None:
            self._tmp.cleanup()


def _owner(devices, unit_id):
    """The device of a topic's location a reading's unitID names (MAC, or its last 4 hex digits)."""
    tail = unit_id.rpartition("_")[2].lower()
    for d in devices:
        h = d["mac"].replace(":", "").lower()
        if unit_id.replace(":", "").lower() == h or h.endswith(tail):
            return d
    return devices[0] if len(devices) == 1 else None


def _end(p, timeout=10):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _tail(lines, n=12):
    lines = [ln for ln in lines if ln.strip()]
    return "\n".join("    " + re.sub(r"[\x00-\x08\x0b-\x1f]", "", ln) for ln in lines[-n:])
