"""The virtual neOSensor board: the real MicroPython unix port running the
firmware from a folder that stands for the board's flash (the VM's
filesystem root, with a board's import path).

The VM gets, ahead of its built-ins, the peripheral fakes of firmware/virtual/
(machine, network, ntptime), in a ROMFS image standing for the board's ROM.
By default the firmware is deployed as a ROMFS board's flashing tool does it:
boot.py, main.py and config.json as files, the code in /romfs.img, run in
place. The VM's -X heapsize is the heap asked for plus the exact size of the
buffers holding the images (they stand for flash), so the firmware has
exactly the heap asked for. This runner plays the parts of the board a VM
cannot: the serial console (a pty, shown with a prefix and offered as a TCP
"serial port" for mpremote), the power switch (a reset or deepsleep ends the
process and the runner boots it again), the hardware watchdog (a late feed
kills the VM) and the outside world: the simulated chips (drivers.sim models,
here in CPython, reached by the VM's fake I2C over a loopback socket, so they
cost the board's heap nothing), the Wi-Fi state and the input pins, all
settable while it runs.

    board = VirtualBoard(mac="aa:bb:cc:00:11:22", server="http://127.0.0.1:8000",
                         wifi=("campus", "secret"),
                         chips=["mcp9808@0x18:temperature=21.5", "tsl2561@0x39:lux=300"])
    board.start(); board.wait_for(r"^mqtt: connected"); board.set(0x18, temperature=25)
    board.stop()
"""
import ast
import ctypes
import ctypes.util
import fcntl
import json
import math
import os
import pathlib
import pty
import re
import select
import shutil
import signal
import socket
import tempfile
import termios
import threading
import time

from drivers.sim.registry import models
from neoc import micropython as upy
from neoc.mpy import compile_tree

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
VIRTUAL = FIRMWARE / "virtual"


def frame_ops():
    """{name: op code} of the frames between the fakes and this runner, read
    from the fakes' own table (vboard.py's top-level NAME = int lines; the
    module itself connects to a runner when imported, so it is parsed)."""
    tree = ast.parse((VIRTUAL / "vboard.py").read_text())
    return {node.targets[0].id: node.value.value for node in tree.body
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id.isupper() and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, int)}


OPS = frame_ops()

# Heap the firmware gets by default: the 64-bit equivalent of the budget.
# The budget is 24 KB as a 32-bit board counts it (25 % headroom in the
# ~32 KB an ESP8266 has free after boot), measured by bench/heap32.py in the
# 32-bit WebAssembly port. This 64-bit port's objects take more room: the
# same scenario measures 1.84 times the bytes (instances and lists double,
# strings and bytes do not), so 24 KB there is 45k here (bench/heap32.py
# prints the ratio and this figure; firmware/README.md, Heap).
DEFAULT_HEAP = "45k"


def firmware_literal(path, name):
    """The value of `name = <literal>` at the top level of a firmware file,
    read, not imported (the firmware's modules import what only a board has)."""
    for node in ast.parse(pathlib.Path(path).read_text(), str(path)).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                raise ValueError("%s: %s is no literal" % (path, name)) from None
    raise ValueError("%s: no top-level %s = ..." % (path, name))


# The firmware's own pin table; the chip names from drivers/sim's models.
BOARDS = {board: {"sda": sda, "scl": scl}
          for board, (sda, scl) in firmware_literal(FIRMWARE / "neosensor" / "setup.py", "PINS").items()}
MODELS = models()
CHIPS = tuple(MODELS)
_PR_SET_PDEATHSIG = 1
try:
    _PRCTL = getattr(ctypes.CDLL(ctypes.util.find_library("c")), "prctl", None)
except OSError:
    _PRCTL = None     # not Linux: a runner killed hard may leave its VM behind
_NUMBER = r"-?\d+(?:\.\d+)?"
_DRIFT_RE = re.compile(r"^(%s)\.\.(%s)/(\d+(?:\.\d+)?)s?$" % (_NUMBER, _NUMBER))


class BoardError(ValueError):
    pass


# -- command-line values --------------------------------------------------------
def parse_quantity(text):
    """A number, or a drift `LOW..HIGH/PERIOD` kept as its normalised string
    (the VM computes the cycle from the clock)."""
    text = text.strip()
    if re.fullmatch(_NUMBER, text):
        return float(text)
    m = _DRIFT_RE.match(text)
    if not m:
        raise BoardError("quantity %r: want a number or LOW..HIGH/PERIOD (e.g. 19..24/600s)" % text)
    lo, hi, period = float(m.group(1)), float(m.group(2)), float(m.group(3))
    if period <= 0:
        raise BoardError("quantity %r: the period must be > 0" % text)
    return "%s..%s/%ss" % (lo, hi, period)


def parse_chip(text):
    """`CHIP@ADDR[:QUANTITY=VALUE,...]` -> (chip, address, {quantity: value})."""
    head, _, rest = text.partition(":")
    chip, at, addr = head.partition("@")
    chip = chip.strip().lower()
    if chip not in CHIPS:
        raise BoardError("chip %r: known chips are %s" % (chip, ", ".join(CHIPS)))
    if not at:
        raise BoardError("chip %r: give its address, e.g. %s@0x18" % (text, chip))
    try:
        address = int(addr, 0)
    except ValueError:
        raise BoardError("chip %r: bad I2C address %r" % (text, addr)) from None
    if not 0x08 <= address <= 0x77:
        raise BoardError("chip %r: I2C address out of range 0x08..0x77" % text)
    values = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        name, eq, value = part.partition("=")
        if not eq:
            raise BoardError("chip %r: %r is not QUANTITY=VALUE" % (text, part))
        values[name.strip()] = parse_quantity(value)
    return chip, address, values


def parse_heap(text):
    m = re.fullmatch(r"(\d+)([kKmM]?)", str(text).strip())
    if not m:
        raise BoardError("heap %r: want a size such as 36k" % text)
    return m.group(1) + m.group(2).lower()


# -- what goes on the flash -----------------------------------------------------
# What a deploy puts where (flash paths). romfs: the code is one ROMFS image
# (the partition `mpremote romfs deploy` writes on an ESP32, frozen flash on an
# ESP8266); the VM holds it in a buffer counted on top of the heap (see
# vm_heap), so the code costs the firmware's heap nothing, as on a board.
# mpy: the code as .mpy files on the filesystem, loaded into the heap on
# import (about 2.5x their size). source: plain .py, compiled on the board.
DEPLOYS = ("romfs", "mpy")
ROMFS_IMAGE = "romfs.img"
FAKES_IMAGE = "fakes.img"


def _firmware_trees(flash_dir):
    return [(FIRMWARE, flash_dir, ("virtual/*", "virtual/**", "*.md", "manifest.py")),
            (ROOT / "neocampus", flash_dir / "lib" / "neocampus", ()),
            (ROOT / "drivers", flash_dir / "lib" / "drivers", ("sim/*", "sim/**"))]


def deploy(flash_dir, source=False, arch=None, mode="mpy"):
    """Put the firmware on a flash folder as the flashing tool does: boot.py
    and main.py as source, the app and its libraries as .mpy files (mode
    "mpy"), as one ROMFS image /romfs.img (mode "romfs"), or all as .py
    (source=True, whatever the mode)."""
    if mode not in DEPLOYS:
        raise BoardError("deploy %r: one of %s" % (mode, ", ".join(DEPLOYS)))
    flash_dir = pathlib.Path(flash_dir)
    flash_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if source:
        for src, dest, exclude in _firmware_trees(flash_dir):
            for f in sorted(src.rglob("*.py")):
                rel = f.relative_to(src)
                if "__pycache__" in rel.parts or any(rel.match(p) for p in exclude):
                    continue
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, dest / rel)
                written.append(dest / rel)
        return written
    if mode == "mpy":
        for src, dest, exclude in _firmware_trees(flash_dir):
            written += compile_tree(src, dest, arch=arch, exclude=exclude)
        return written
    with tempfile.TemporaryDirectory(prefix="neoc-romfs-") as tmp:
        staged = pathlib.Path(tmp) / "flash"
        compile_tree(FIRMWARE, staged, arch=arch, exclude=_firmware_trees(staged)[0][2])
        for name in ("boot.py", "main.py"):
            shutil.copyfile(staged / name, flash_dir / name)
            written.append(flash_dir / name)
        # Image layout: packages at its root ("/rom" is on the import path).
        rom = pathlib.Path(tmp) / "rom"
        shutil.copytree(staged / "neosensor", rom / "neosensor")
        shutil.copytree(staged / "lib" / "umqtt", rom / "umqtt", ignore=shutil.ignore_patterns("LICENSE", "*.md"))
        for src, dest, exclude in _firmware_trees(rom)[1:]:
            compile_tree(src, rom / dest.name, arch=arch, exclude=exclude)
        written.append(build_romfs(rom, flash_dir / ROMFS_IMAGE))
    return written


def build_romfs(src_dir, image):
    """A ROMFS image of src_dir (already compiled) with the real `mpremote romfs build`."""
    import subprocess
    import sys
    mpremote = pathlib.Path(sys.executable).with_name("mpremote")
    cmd = [str(mpremote) if mpremote.exists() else "mpremote", "romfs", "--no-mpy", "-o", str(image),
           "build", str(src_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BoardError("mpremote romfs build failed: %s" % (proc.stderr or proc.stdout)[-400:])
    return pathlib.Path(image)


# Measured heap figures, by (heap, image sizes): a few VM runs each, once.
_HEAP_CACHE = {}
_HEAP_PROBE = """\
import gc, sys
gc.collect()
free = gc.mem_free()
bufs = [bytearray(int(n)) for n in sys.argv[1:]]
gc.collect()
a = gc.mem_alloc()
del bufs
gc.collect()
print(gc.mem_alloc() + gc.mem_free(), a - gc.mem_alloc(), free)
"""
# Room given for the peripheral fakes (and vboot) on top of the heap: on a
# board they are built-in C modules and ROM code that take no heap. The
# bootstrap reserves the firmware's heap before they load, and vboot.py
# fills what they did not use (a ballast), so the firmware starts with
# exactly the free heap of a bare VM with the heap asked for, in one piece.
FAKES_ROOM = 24 * 1024


def heap_bytes(heap):
    """A heap size such as "45k" in bytes."""
    heap = parse_heap(heap)
    return int(heap[:-1]) * (1024 if heap[-1] == "k" else 1048576) if heap[-1] in "km" else int(heap)


def vm_heap(heap, images):
    """(-X heapsize in bytes, bytes the image buffers take, free heap the
    firmware must find when boot.py starts). The heapsize gives, on top of
    `heap`, the image buffers exactly (measured: the ROMFS images stand for
    memory-mapped flash) and FAKES_ROOM; the free figure is what a bare VM
    with `heap` has, which vboot.py trims the heap to."""
    heap = parse_heap(heap)
    sizes = tuple(int(n) for n in images)
    key = (heap, sizes)
    if key not in _HEAP_CACHE:
        def probe(size, bufs):
            out = upy.run(code=_HEAP_PROBE, args=[str(n) for n in bufs], heap=size, timeout=20)
            if out.returncode != 0:
                raise BoardError("heap probe failed: %s" % (out.stderr or out.stdout)[-300:])
            return tuple(int(w) for w in out.stdout.split())
        want, _, free = probe(heap, ())  # what the firmware would have with no images
        size = heap_bytes(heap) + probe("4m", sizes)[1]
        for _ in range(8):
            total, taken, _ = probe(size, sizes)
            if total - taken >= want:
                break
            size += want - (total - taken) + 64
        else:
            raise BoardError("heap probe: no heapsize found for %s + images %s" % (heap, sizes))
        _HEAP_CACHE[key] = (size + FAKES_ROOM, taken, free)
    return _HEAP_CACHE[key]


def write_config(flash_dir, server=None, wifi=None, broker=None, sandbox=False, extra=None):
    """/config.json as the flashing tool writes it (atomically)."""
    cfg = {"wifi": [], "sensocampus": server, "sandbox": bool(sandbox)}
    if wifi:
        cfg["wifi"].append({"ssid": wifi[0], "password": wifi[1]})
    if broker:
        cfg["broker"] = {"server": broker[0], "port": int(broker[1])}
    cfg.update(extra or {})
    path = pathlib.Path(flash_dir) / "config.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cfg, indent=1))
    os.replace(tmp, path)
    return cfg


def build_virtual_lib(dest, source=False):
    """The peripheral fakes as a folder (.mpy, or .py with source=True)."""
    dest = pathlib.Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    if source:
        shutil.copytree(VIRTUAL, dest, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        compile_tree(VIRTUAL, dest, keep_source=())
    return dest


def build_fakes_image(image):
    """The peripheral fakes and vboot (the virtual ROM bootloader) as a ROMFS
    image: on a board they are C modules and ROM code that take no heap."""
    with tempfile.TemporaryDirectory(prefix="neoc-fakes-") as tmp:
        return build_romfs(build_virtual_lib(pathlib.Path(tmp) / "fakes"), image)


# The VM's first code (-c): map the fakes' image (the board's ROM), keep its
# buffer (vboard.rom: the code loaded from it runs in place) and run vboot
# from it. The buffer is one of those vm_heap() adds to the heap.
# Its first allocation reserves the firmware's heap at the bottom: a board's
# heap is one piece, so what the fakes and the image buffers take must sit
# above it, not strewn through it (vboot.py gives the reserve back).
BOOTSTRAP = ("_r=bytearray(%d)\n"
             "import os,sys,vfs\n"
             "_b=bytearray(os.stat(os.getenv('NEOC_VBOARD')+'/%s')[6])\n"
             "with open(os.getenv('NEOC_VBOARD')+'/%s','rb') as _f:_f.readinto(_b)\n"
             "vfs.mount(vfs.VfsRom(_b),'/vrom')\n"
             "sys.path[:0]=['/vrom']\n"
             "import vboard\n"
             "vboard.rom,vboard.reserve=_b,_r\n"
             "del _b,_f,_r,os,sys,vfs,vboard\n"
             "import vboot\n")


# -- the hardware around the VM -------------------------------------------------
# The noise front end: a microphone's envelope (`noise`, a fraction of the
# DAC's reference) against the comparator threshold the MCP47x6 sets; the
# comparator's rising edges reach the GPIO given as the chip's `pin`
# (default 13). Loudness above the threshold makes pulses, PULSE_HZ per unit
# of the difference.
PULSE_HZ = 200.0
NOISE_PIN = 13


def drift_value(spec, t):
    """Value of a quantity at UNIX time t: a number, or a smooth cycle between
    LOW and HIGH (LOW at t % PERIOD == 0, HIGH half a period later)."""
    if not isinstance(spec, str):
        return spec
    m = _DRIFT_RE.match(spec)
    lo, hi, period = float(m.group(1)), float(m.group(2)), float(m.group(3))
    return lo + (hi - lo) * (1 - math.cos(2 * math.pi * (t % period) / period)) / 2


class Hardware:
    """What is soldered around the MCU: the I2C bus with its chips, input
    pins, the radio. Lives in the runner, survives the VM's resets."""

    def __init__(self, chips):
        from drivers.sim.bus import SimBus
        self.bus = SimBus()
        self.specs = {}
        for chip, addr, values in chips:
            self.bus.attach(addr, MODELS[chip]())
            self.specs[addr] = dict(values)
        self.pins = {}
        self.irq = {}            # pin -> [time of the last count, fraction of a pulse carried]
        self.wifi = "ok"
        self.ntp = True
        self.lock = threading.Lock()
        self._apply()

    def _apply(self, addr=None):
        t = time.time()
        for a, values in self.specs.items():
            if addr is None or a == addr:
                for q, spec in values.items():
                    setattr(self.bus.models[a], q, drift_value(spec, t))

    def set(self, addr, **quantities):
        with self.lock:
            if addr not in self.specs:
                raise BoardError("no chip at 0x%02x on this board" % addr)
            for q, v in quantities.items():
                self.specs[addr][q] = parse_quantity(str(v))
            self._apply(addr)

    def model(self, addr):
        return self.bus.models[addr]

    def _pulses(self, pin):
        """Rising edges on `pin` since the VM last asked (2 bytes, big endian)."""
        now = time.monotonic()
        last = self.irq.setdefault(pin, [now, 0.0])
        dt, last[0] = now - last[0], now
        rate = 0.0
        for a, model in self.bus.models.items():
            if hasattr(model, "output") and int(getattr(model, "pin", NOISE_PIN)) == pin:
                self._apply(a)
                rate += PULSE_HZ * max(0.0, float(getattr(model, "noise", 0.0)) - model.output())
        last[1] += rate * dt
        n = min(int(last[1]), 0xFFFF)
        last[1] -= n
        return n.to_bytes(2, "big")

    def handle(self, op, addr, data, nread, flags):
        """One frame from the VM's fakes -> reply bytes (or None)."""
        with self.lock:
            if op == OPS["I2C"]:
                self._apply(addr)
                try:
                    # The public machine.I2C API of SimBus: a write without
                    # STOP then a read is one combined transaction.
                    if data or not nread:
                        self.bus.writeto(addr, data, not nread and bool(flags & 1))
                    got = self.bus.readfrom(addr, nread, bool(flags & 1)) if nread else b""
                except OSError as e:
                    return bytes((e.errno if isinstance(e.errno, int) and 0 < e.errno < 256 else 5,))
                return b"\0" + got
            if op == OPS["SCAN"]:
                found = self.bus.scan()
                return bytes((len(found),)) + bytes(found)
            if op == OPS["PIN"]:
                return bytes((self.pins.get(addr, 0),))
            if op == OPS["EDGES"]:
                return self._pulses(addr)
            if op == OPS["RADIO"]:
                return bytes((("ok", "fail", "down").index(self.wifi) | (0 if self.ntp else 8),))
        return None


# -- the board ------------------------------------------------------------------
class VirtualBoard:
    """One virtual board: a VM per boot, a runner thread across boots."""

    def __init__(self, mac, server=None, wifi=("neocampus", "neocampus"), chips=(), flash_dir=None,
                 heap=DEFAULT_HEAP, repl=None, blank=False, source=False, board="esp8266",
                 broker=None, sandbox=False, echo=True, prefix=None, config_extra=None, deploy="romfs"):
        from neocampus.ids import mac_wire
        self.mac = mac_wire(mac)
        self.server, self.wifi, self.board = server, wifi, board
        if board not in BOARDS:
            raise BoardError("board %r: one of %s" % (board, ", ".join(BOARDS)))
        self.heap = parse_heap(heap)
        self.chips = [parse_chip(c) if isinstance(c, str) else c for c in chips]
        self.hw = Hardware(self.chips)
        self._tmp = tempfile.mkdtemp(prefix="neoc-board-")
        self.state = pathlib.Path(self._tmp) / "state"
        self.state.mkdir()
        self.flash = pathlib.Path(flash_dir) if flash_dir else pathlib.Path(self._tmp) / "flash"
        self.flash.mkdir(parents=True, exist_ok=True)
        self.blank, self.source, self.broker, self.sandbox = blank, source, broker, sandbox
        self.config_extra = config_extra
        if deploy not in DEPLOYS:
            raise BoardError("deploy %r: one of %s" % (deploy, ", ".join(DEPLOYS)))
        self.deploy = deploy
        self.heap_note = None
        self.repl = _parse_repl(repl) if repl else None
        self.echo = echo
        self.prefix = prefix or "[board %s] " % self.mac[-5:].replace(":", "")
        self.lines = []
        self.times = []          # time.time() of each console line
        self.boots = []          # reset cause of each boot
        self.exits = []          # (returncode, cause) of each VM run
        self._cond = threading.Condition()
        self._proc = None
        self._master = None
        self._stopping = False
        self._wdt = None         # (timeout_s, deadline)
        self._cause = None       # power event announced by the running VM
        self._sleep_ms = 0
        self._client = None      # REPL user
        self._server = None
        self._bus = None         # VM's hardware link
        self._threads = []

    # -- outside world ----------------------------------------------------------
    def set(self, address, **quantities):
        """Change quantities of the chip at `address` while the board runs."""
        self.hw.set(int(address), **quantities)

    def set_wifi(self, state):
        if state not in ("ok", "fail", "down"):
            raise BoardError("wifi state is ok, fail or down")
        self.hw.wifi = state

    def set_pin(self, pin, level):
        self.hw.pins[int(pin)] = 1 if level else 0

    # -- life cycle -------------------------------------------------------------
    def prepare(self):
        if not self.blank:
            deploy(self.flash, source=self.source, mode=self.deploy)
            write_config(self.flash, self.server, self.wifi, self.broker, self.sandbox, self.config_extra)
        build_fakes_image(self.state / FAKES_IMAGE)
        self._hw_server = socket.socket()
        self._hw_server.bind(("127.0.0.1", 0))
        self._hw_server.listen(2)
        desc = {"mac": self.mac, "board": self.board, "wifi": {},
                "port": self._hw_server.getsockname()[1]}
        desc.update(BOARDS[self.board])
        if self.wifi:
            desc["wifi"][self.wifi[0]] = self.wifi[1]
        self._desc = desc

    def start(self):
        self.prepare()
        if self.repl:
            self._listen()
        t = threading.Thread(target=self._supervise, daemon=True, name="vboard")
        t.start()
        self._threads.append(t)
        return self

    def _boot(self, cause):
        desc = dict(self._desc, cause=cause)
        heapsize, desc["free"] = self._heapsize()
        (self.state / "board.json").write_text(json.dumps(desc))
        self._wdt, self._cause = None, None
        master, slave = pty.openpty()
        # A cooked tty with signals: Ctrl-C from the console interrupts the
        # firmware (SIGINT -> KeyboardInterrupt) as on a board's UART.
        # Output goes out as written (no LF -> CRLF): the REPL's own CRLFs are
        # what mpremote expects, as from a board's UART.
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        env = dict(os.environ, NEOC_VBOARD=str(self.state))

        def ctty():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            # In a session of its own the VM gets no signal from the runner's
            # terminal: tie it to the supervising thread so a runner killed
            # with SIGKILL leaves no orphan VM either.
            if _PRCTL is not None:
                _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)

        bootstrap = BOOTSTRAP % (desc["free"], FAKES_IMAGE, FAKES_IMAGE)
        proc = upy.popen(["-i", "-c", bootstrap], heap=heapsize, path=(),
                         cwd=self.flash, env=env, stdin=slave, stdout=slave, stderr=slave,
                         preexec_fn=ctty, close_fds=True)
        os.close(slave)
        with self._cond:
            self._proc, self._master = proc, master
            self.boots.append(cause)
            self._cond.notify_all()
        self._console("--- boot %d (%s) heap %s" % (len(self.boots), cause, self.heap), raw=True)
        return proc, master

    def _heapsize(self):
        """-X heapsize for this boot: the heap asked for, plus the buffers the
        VM maps the ROM images from (they stand for flash, which a board does
        not take from its heap), measured for the images on the flash now,
        plus room for the fakes that vboot.py trims back (board.json "free")."""
        images = [(self.state / FAKES_IMAGE).stat().st_size]
        rom = self.flash / ROMFS_IMAGE
        if rom.exists():
            images.append(rom.stat().st_size)
        size, taken, free = vm_heap(self.heap, images)
        note = ("--- heap %s for the firmware (%d B free at boot.py, as in a bare VM with %s) + %d B image "
                "buffers standing for flash (%s) + the fakes' own heap, standing for built-in modules "
                "(-X heapsize=%d)" % (self.heap, free, self.heap, taken,
                                      " + ".join("%d B image" % n for n in images), size))
        if note != self.heap_note:
            self.heap_note = note
            self._console(note, raw=True)
        return str(size), free

    def _supervise(self):
        cause = "power"
        while not self._stopping:
            proc, master = self._boot(cause)
            self._run(proc, master)
            os.close(master)
            if self._bus is not None:
                self._bus.close()
                self._bus = None
            rc = proc.wait()
            with self._cond:
                self.exits.append((rc, self._cause))
                self._cond.notify_all()
            if self._stopping:
                break
            cause = self._cause or "power"
            self._console("--- VM ended (exit %s): %s" % (
                rc, "reset (%s)" % cause if self._cause else "power cycle"), raw=True)
            if cause == "deepsleep":
                time.sleep(min(self._sleep_ms, 60000) / 1000.0)
            elif not self._cause:
                time.sleep(1.0)  # the VM itself ended (Ctrl-D, crash): do not spin

    def _run(self, proc, master):
        out = b""
        frames = b""
        while True:
            fds = [master, self._hw_server]
            for extra in (self._bus, self._client, self._server):
                if extra is not None:
                    fds.append(extra)
            try:
                ready, _, _ = select.select(fds, [], [], 0.05)
            except (OSError, ValueError):
                ready = []
            eof = False
            if master in ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    data = b""
                if data:
                    out = self._output(out, data)
                else:
                    eof = True
            if self._hw_server in ready:
                conn, _ = self._hw_server.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self._bus is not None:
                    self._bus.close()
                self._bus, frames = conn, b""
            if self._bus is not None and self._bus in ready:
                try:
                    data = self._bus.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._bus.close()
                    self._bus = None
                else:
                    frames = self._frames(frames + data, proc)
            if self._server is not None and self._server in ready:
                self._accept()
            if self._client is not None and self._client in ready:
                self._from_client(master)
            if self._wdt and time.monotonic() > self._wdt:
                self._cause = "wdt"
                self._wdt = None
                self._console("--- watchdog: no feed for %.1f s: reset" % self._wdt_timeout, raw=True)
                _kill(proc)
            if self._stopping:
                _kill(proc)
            if proc.poll() is not None and (eof or master not in ready):
                try:  # what the VM wrote before it ended
                    while select.select([master], [], [], 0.05)[0]:
                        data = os.read(master, 4096)
                        if not data:
                            break
                        out = self._output(out, data)
                except OSError:
                    pass
                if out:
                    self._line(out.rstrip(b"\r").decode(errors="replace"))
                return

    def _frames(self, buf, proc):
        while len(buf) >= 6:
            op, addr, nw, nread, flags = buf[0], buf[1], buf[2], buf[3], buf[4]
            if len(buf) < 6 + nw:
                break
            data, buf = buf[6:6 + nw], buf[6 + nw:]
            if op == OPS["EVENT"]:
                self._event(data.decode(errors="replace"), proc)
                continue
            reply = self.hw.handle(op, addr, data, nread, flags)
            if reply is not None:
                try:
                    self._bus.sendall(reply)
                except OSError:
                    pass
        return buf

    def _event(self, line, proc):
        kind, _, arg = line.partition(" ")
        if kind == "wdt":
            self._wdt_timeout = max(int(arg or 5000), 100) / 1000.0
            self._wdt = time.monotonic() + self._wdt_timeout
        elif kind == "feed" and self._wdt:
            self._wdt = time.monotonic() + self._wdt_timeout
        elif kind == "rtcmem":
            self._desc["rtc_memory"] = arg.strip()
        elif kind in ("reset", "soft", "deepsleep"):
            self._cause = kind
            self._sleep_ms = int(arg or 0)
            _kill(proc)

    # -- console ----------------------------------------------------------------
    def _output(self, buf, data):
        if self._client is not None:
            try:
                self._client.sendall(data)
            except OSError:
                self._drop_client()
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            self._line(line.rstrip(b"\r").decode(errors="replace"))
        return buf

    def _line(self, text):
        with self._cond:
            self.lines.append(text)
            self.times.append(time.time())
            self._cond.notify_all()
        if self.echo:
            self._show(text)

    def _console(self, text, raw=False):
        with self._cond:
            self.lines.append(text)
            self.times.append(time.time())
            self._cond.notify_all()
        if self.echo:
            self._show(text)

    def _show(self, text):
        out = self.echo if callable(self.echo) else print
        out(self.prefix + text)

    def wait_for(self, pattern, timeout=30.0, start=0):
        """Wait for a console line matching `pattern` (regex) at index >= start;
        returns (index, match). Raises TimeoutError with the console tail."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no console line matching %r in %.0f s; last lines:\n%s"
                                       % (pattern, timeout, "\n".join(self.lines[-40:])))
                self._cond.wait(min(left, 0.5))

    def wait_boots(self, n, timeout=30.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.boots) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("board booted %d times, wanted %d" % (len(self.boots), n))
                self._cond.wait(min(left, 0.5))

    def send(self, data):
        """Type on the serial console."""
        os.write(self._master, data if isinstance(data, bytes) else data.encode())

    # -- the REPL over TCP ------------------------------------------------------
    def _listen(self):
        host, port = self.repl
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host, port))
        srv.listen(1)
        srv.setblocking(False)
        self._server = srv
        self.repl = (host, srv.getsockname()[1])

    def _accept(self):
        try:
            conn, _ = self._server.accept()
        except OSError:
            return
        if self._client is not None:
            conn.close()  # one serial port, one user at a time
            return
        conn.setblocking(True)
        self._client = conn

    def _from_client(self, master):
        try:
            data = self._client.recv(4096)
        except OSError:
            data = b""
        if not data:
            self._drop_client()
            return
        try:
            os.write(master, data)
        except OSError:
            pass

    def _drop_client(self):
        try:
            self._client.close()
        except OSError:
            pass
        self._client = None

    def stop(self, reason=None, timeout=5.0):
        """Power the board off for good; `reason` is said on its console."""
        if reason and not self._stopping:
            self._console("--- board stopped: %s" % reason, raw=True)
        self._stopping = True
        if self._proc is not None:
            _kill(self._proc)
        for t in self._threads:
            t.join(timeout)
        for s in (self._server, self._client, getattr(self, "_hw_server", None)):
            if s is not None:
                s.close()
        self._client = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _kill(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                proc.kill()
            except ProcessLookupError:
                pass


def _parse_repl(url):
    m = re.fullmatch(r"socket://([^:/]+):(\d+)", url)
    if not m:
        raise BoardError("--repl %r: want socket://HOST:PORT" % url)
    return m.group(1), int(m.group(2))
