"""The virtual board's runner: one VM per boot, one supervising thread
across boots (see the package's docstring for what it plays)."""
import ctypes
import ctypes.util
import fcntl
import json
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

from toolchain import micropython as upy
from toolchain.deploy import DEPLOYS, ROMFS_IMAGE, deploy, write_config
from toolchain.ports import free_port
from virtual_board.hardware import OPS, Hardware
from virtual_board.heap import DEFAULT_HEAP, parse_heap, vm_heap
from virtual_board.rom import BOOTSTRAP, FAKES_IMAGE, build_fakes_image
from virtual_board.spec import BOARDS, BoardError, parse_chip

_PR_SET_PDEATHSIG = 1
try:
    _PRCTL = getattr(ctypes.CDLL(ctypes.util.find_library("c")), "prctl", None)
except OSError:
    _PRCTL = None     # not Linux: a runner killed hard may leave its VM behind


class VirtualBoard:
    """One virtual board: a VM per boot, a runner thread across boots."""

    def __init__(self, mac, server=None, wifi=("neocampus", "neocampus"), chips=(), flash_dir=None,
                 heap=DEFAULT_HEAP, repl=None, blank=False, source=False, board="esp8266",
                 broker=None, sandbox=False, echo=True, prefix=None, config_extra=None, deploy="romfs",
                 wiring=(), clock=1):
        from neocampus.ids import mac_wire
        self.mac = mac_wire(mac)
        self.server, self.wifi, self.board = server, wifi, board
        if board not in BOARDS:
            raise BoardError("board %r: one of %s" % (board, ", ".join(BOARDS)))
        self.heap = parse_heap(heap)
        # The firmware's clock runs `clock` times as fast (firmware/virtual/vclock.py).
        if not isinstance(clock, int) or isinstance(clock, bool) or not 1 <= clock <= 1000:
            raise BoardError("clock %r: a whole speed-up factor, 1 to 1000" % (clock,))
        self.clock = clock
        self.chips = [parse_chip(c) if isinstance(c, str) else c for c in chips]
        self.hw = Hardware(self.chips, wiring, (BOARDS[board]["sda"], BOARDS[board]["scl"]))
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
        self.feeds = 0           # watchdog feeds over all boots (the loop feeds once a turn)
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

    def set_wiring(self, fault):
        """A wiring fault while the board runs (virtual_board.spec.WIRING; "ok" clears them)."""
        self.hw.set_wiring(fault)

    def set_pin(self, pin, level):
        self.hw.pins[int(pin)] = 1 if level else 0

    def power_cycle(self):
        """Pull the plug and put it back: the VM ends wherever it is (a write
        half done included) and the board boots again with cause "power"."""
        with self._cond:
            proc = self._proc
            self._cause = None
        if proc is not None:
            _kill(proc)

    # -- life cycle -------------------------------------------------------------
    def prepare(self):
        if not self.blank:
            deploy(self.flash, source=self.source, mode=self.deploy)
            # The board type as `neoc flash` writes it: the unix port's sys.platform is
            # "linux", so the firmware could not tell an ESP32 (its update URL, its pins).
            extra = dict({"board": self.board}, **(self.config_extra or {}))
            write_config(self.flash, self.server, self.wifi, self.broker, self.sandbox, extra)
        build_fakes_image(self.state / FAKES_IMAGE)
        self._hw_server = socket.socket()
        self._hw_server.bind(("127.0.0.1", 0))
        self._hw_server.listen(2)
        # The board's web server (the set-up portal) listens on its port 80,
        # the VM on this loopback port (the fake socket maps one to the other).
        self.portal_port = free_port()
        desc = {"mac": self.mac, "board": self.board, "wifi": {},
                "port": self._hw_server.getsockname()[1], "portal": self.portal_port}
        desc.update(BOARDS[self.board])
        if self.clock > 1:
            desc["clock"] = self.clock
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
        elif kind == "feed":
            self.feeds += 1
            if self._wdt:
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
        """A line of the runner's own (boots, heap, watchdog) among the VM's."""
        self._line(text)

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
        _type(self._proc, self._master, data if isinstance(data, bytes) else data.encode())

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
            _type(self._proc, master, data)
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


# Syscalls in which the VM waits on the outside world, never inside one of
# its own locks (x86_64 numbers): read, write, poll, select, nanosleep, the
# socket calls, clock_nanosleep, epoll_wait, pselect6, ppoll, epoll_pwait.
_WAITING = {0, 1, 7, 23, 35, 42, 43, 44, 45, 46, 47, 230, 232, 270, 271, 281, 288}
_KNOWN_SYSCALLS = os.uname().machine == "x86_64"


def _type(proc, master, data):
    """Write console input; a Ctrl-C for the running firmware goes as SIGINT
    at a moment the VM waits in a syscall.

    The unix port raises KeyboardInterrupt from inside its signal handler
    (MICROPY_ASYNC_KBD_INTR), so a Ctrl-C that lands while the VM holds its
    qstr mutex leaves it locked and the REPL that follows hangs on its first
    new name. A board raises it between two bytecodes. The tty turns 0x03
    into SIGINT only while the firmware runs (ISIG on); the REPL reads it raw
    (ISIG off) and gets the byte as it is."""
    while b"\x03" in data:
        try:
            cooked = termios.tcgetattr(master)[3] & termios.ISIG
        except termios.error:
            cooked = 0
        if not cooked or proc is None or proc.poll() is not None:
            break
        head, _, data = data.partition(b"\x03")
        if head:
            os.write(master, head)
        _interrupt_when_waiting(proc.pid)
    if data:
        os.write(master, data)


def _interrupt_when_waiting(pid, timeout=1.0):
    deadline = time.monotonic() + timeout
    while _KNOWN_SYSCALLS and time.monotonic() < deadline:
        try:
            with open("/proc/%d/syscall" % pid) as f:
                nr = f.read().split(None, 1)[0]
        except (OSError, IndexError):
            break  # gone, or no /proc: nothing better to wait for
        if nr.isdigit() and int(nr) in _WAITING:
            break
        time.sleep(0.0005)
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        pass


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
