"""The `concentrator` role: boards on serial lines speaking JSON lines (pyserial),

    {"module": "temperature", "value": 21.5, "subID": "t1"}      one reading per line

and Modbus RTU devices (pymodbus) whose registers the config lists (address,
type, scale, module, subID), bridged into readings with their own unitIDs
(`<unit>_xxxx`, unit from the config, the port's name by default).

Serial lines are read on the agent's loop thread (their file descriptors wait
in its select()); each Modbus device is polled from a thread of its own and
hands its readings to the loop through a queue. The loop numbers and stores
them. A line that says nothing for
`silent_after` seconds is "silent", a port that cannot be opened or read is
"unplugged" (reopened every 2 s); both show in the device status (`lines`)
and are logged when they happen. Garbage (not JSON, not a reading, too long)
is counted and skipped.
"""
import collections
import json
import logging
import os
import struct
import threading
import time

from neocampus import ids, payload, table

log = logging.getLogger("rpi_agent.concentrator")

MAX_LINE = 512
REOPEN = 2.0


def _unit(cfg):
    if cfg["unit"]:
        return cfg["unit"]
    name = "".join(c if c.isalnum() else "_" for c in os.path.basename(cfg["port"]))
    return name or "line"


def reading_of(doc):
    """(module, value, subID, extras) from a JSON-lines reading, or ValueError."""
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    module = doc.get("module")
    if not isinstance(module, str) or module not in table.MODULES or table.MODULES[module][table.VALUE] is None:
        raise ValueError("module %r is not a sensOCampus module with readings" % (module,))
    sub = doc.get("subID")
    if sub is not None and not (isinstance(sub, str) and sub and len(sub) <= 32
                                or isinstance(sub, int) and not isinstance(sub, bool)):
        raise ValueError("bad subID %r" % (sub,))
    extra = {k: doc[k] for k in ("input", "type") if k in doc}
    unknown = set(doc) - {"module", "value", "subID", "input", "type"}
    if unknown:
        raise ValueError("unknown field %r" % sorted(unknown)[0])
    # payload.reading checks the value against the module's format: try it now, not in the loop.
    payload.reading(module, doc.get("value"), "probe", sub, **extra)
    return module, doc.get("value"), sub, extra


class _Source:
    """What a line and a device share: state, counters, silence, the report.
    `out(item)` takes each reading (unit_id, module, value, subID, extras)."""
    kind = "?"

    def __init__(self, cfg, unit_id, out):
        self.cfg, self.unit_id, self.out = cfg, unit_id, out
        self.state = "starting"
        self.readings = self.garbage = self.errors = 0
        self.last = None
        self.started = time.monotonic()

    def _set(self, state, why=""):
        if state != self.state:
            (log.info if state == "ok" else log.warning)("%s %s: %s%s", self.kind, self.cfg["port"], state,
                                                         " (%s)" % why if why else "")
            self.state = state

    def _got(self, module, value, sub, extra):
        self.readings += 1
        self.last = time.monotonic()
        self._set("ok")
        if not self.out((self.unit_id, module, value, sub, extra)):
            self.errors += 1

    def check_silence(self):
        if self.state in ("ok", "opened", "starting") and time.monotonic() - (self.last or self.started) > self.cfg["silent_after"]:
            self._set("silent", "nothing for %g s" % self.cfg["silent_after"])

    def report(self):
        d = {"kind": self.kind, "state": self.state, "readings": self.readings, "garbage": self.garbage,
             "unit": self.unit_id}
        if self.last is not None:
            d["quiet_s"] = int(time.monotonic() - self.last)
        return d


class SerialLine(_Source):
    """A JSON-lines board, read on the agent's loop thread: its file descriptor
    waits in the loop's select() (rpi_agent.wakeup), so a reading costs one
    wake-up and no hand-over between threads. A port that cannot be opened,
    or fails (a USB adapter pulled, the far end of a pty gone), is closed and
    opened again every REOPEN s by tick()."""
    kind = "serial"

    def __init__(self, cfg, unit_id, out):
        super().__init__(cfg, unit_id, out)
        self.port = None
        self.wakeup = None
        self.next_open = 0.0   # time.monotonic() of the next try to open the port
        self.buf = b""

    def start(self, wakeup):
        self.wakeup = wakeup
        self.tick(time.monotonic())

    def tick(self, now):
        """Open the port when it is closed and its next try is due."""
        if self.port is None and self.wakeup is not None and now >= self.next_open:
            self._open(now)

    def next_due(self):
        """time.monotonic() of the next try to open the port; None while it is open."""
        return None if self.port is not None or self.wakeup is None else self.next_open

    def _open(self, now):
        import serial
        try:
            port = serial.Serial(self.cfg["port"], self.cfg["baudrate"], timeout=0)
        except Exception as e:  # not there (yet), no permission, not a tty
            self._set("unplugged", str(e))
            self.next_open = now + REOPEN
            return
        self.port, self.buf = port, b""
        if self.state in ("unplugged", "starting"):
            self.state = "opened"
            self.last = self.last or time.monotonic()
        self.wakeup.add(port.fileno(), self.readable)

    def _close(self):
        port, self.port = self.port, None
        if port is not None:
            self.wakeup.remove(port.fileno())
            try:
                port.close()
            except Exception:
                pass

    def readable(self):
        """The loop saw bytes (or a hang-up) on the port."""
        try:
            chunk = os.read(self.port.fileno(), 4096)
            if not chunk:
                raise OSError("end of file: the line is gone")
        except BlockingIOError:  # woken for nothing after all
            return
        except OSError as e:  # EIO: the adapter or the pty's far end went away
            self._close()
            self._set("unplugged", str(e))
            self.next_open = time.monotonic() + REOPEN
            return
        self.feed(chunk)

    def feed(self, chunk):
        """Split bytes into lines, however the line's reads cut them. An
        overlong line is counted once: its head when the buffer overflows,
        the rest skipped up to its newline (self.buf is None meanwhile)."""
        buf = chunk if self.buf is None else self.buf + chunk
        if self.buf is None:
            nl = buf.find(b"\n")
            if nl < 0:
                return
            buf = buf[nl + 1:]
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                self.line(line)
            except Exception:  # a line no check foresaw: skipped and said, never the loop's end
                self.garbage += 1
                log.exception("serial %s: line skipped: %r", self.cfg["port"], line[:80])
        if len(buf) > MAX_LINE:
            self.garbage += 1
            log.debug("serial %s: garbage line skipped (longer than %d B)", self.cfg["port"], MAX_LINE)
            buf = None
        self.buf = buf

    def stop(self):
        if self.wakeup is not None:
            self._close()
            self.wakeup = None

    def join(self, timeout=None):
        pass

    def line(self, raw):
        raw = raw.strip()
        if not raw:
            return
        try:
            if len(raw) > MAX_LINE:
                raise ValueError("line too long")
            got = reading_of(json.loads(raw))
        except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            self.garbage += 1
            log.debug("serial %s: garbage line skipped (%s): %r", self.cfg["port"], e, raw[:80])
            return
        self._got(*got)


def decode(regs, kind):
    words = struct.pack(">%dH" % len(regs), *regs)
    return struct.unpack(">" + {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f"}[kind],
                         words)[0]


class ModbusDevice(_Source):
    """A Modbus RTU device polled every `period` s from a thread of its own
    (pymodbus's serial client blocks); readings are handed to the loop by
    `out` (a queue, then a wake-up)."""
    kind = "modbus"

    def __init__(self, cfg, unit_id, out):
        super().__init__(cfg, unit_id, out)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="modbus %s" % cfg["port"], daemon=True)

    def start(self, wakeup=None):
        self.thread.start()

    def tick(self, now):
        pass

    def next_due(self):
        return None

    def run(self):
        self.started = time.monotonic()
        while not self.stopping.is_set():
            try:
                self.serve()
            except Exception as e:  # the port went away (USB pulled) or never was
                self._set("unplugged", str(e))
                self.stopping.wait(REOPEN)

    def stop(self):
        self.stopping.set()

    def join(self, timeout=None):
        if self.thread.is_alive():
            self.thread.join(timeout)

    def serve(self):
        from pymodbus.client import ModbusSerialClient
        c = self.cfg
        client = ModbusSerialClient(c["port"], baudrate=c["baudrate"], timeout=c["timeout"], retries=0)
        if not client.connect():
            raise OSError("cannot open %s" % c["port"])
        if self.state in ("unplugged", "starting"):
            self.state = "opened"
            self.last = self.last or time.monotonic()
        try:
            while not self.stopping.is_set():
                if not os.path.exists(c["port"]):
                    raise OSError("%s is gone" % c["port"])
                self.poll(client)
                self.stopping.wait(c["period"])
        finally:
            client.close()

    def poll(self, client):
        from pymodbus.exceptions import ModbusException
        from rpi_agent.config import REGISTER_TYPES
        c = self.cfg
        for reg in c["registers"]:
            read = client.read_holding_registers if reg["table"] == "holding" else client.read_input_registers
            try:
                r = read(reg["address"], count=REGISTER_TYPES[reg["type"]], device_id=c["device_id"])
            except ModbusException as e:  # no answer within the timeout: the device is quiet
                self.errors += 1
                log.debug("modbus %s: register %d: %s", c["port"], reg["address"], e)
                continue
            if r.isError():
                self.garbage += 1  # an exception reply: the device talks, but not sense
                continue
            value = decode(r.registers, reg["type"]) * reg["scale"]
            if table.MODULES[reg["module"]][table.VALUE] == "int":
                value = int(round(value))
            self._got(reg["module"], value, reg["subID"], {})


class ConcentratorRole:
    def __init__(self, cfg, mac, base, wake=None):
        self.base = base
        self.wake = wake
        self.queue = collections.deque()          # from the Modbus threads (append/popleft are atomic)
        self.ready = []                           # from the serial lines, on the loop's thread
        self.sources = []
        self._next_silence_check = 0.0
        for c in cfg["serial"]:
            self.sources.append(SerialLine(c, ids.unit_id(mac, _unit(c)), self._from_loop))
        for c in cfg["modbus"]:
            self.sources.append(ModbusDevice(c, ids.unit_id(mac, _unit(c)), self._from_thread))

    def _from_loop(self, item):
        if len(self.ready) >= 10000:
            return False
        self.ready.append(item)
        return True

    def _from_thread(self, item):
        if len(self.queue) >= 10000:
            return False
        self.queue.append(item)
        if self.wake is not None:
            self.wake()
        return True

    def start(self, wakeup):
        for s in self.sources:
            s.start(wakeup)

    def on_connect(self, now):
        pass

    def next_due(self):
        """When (ms, the agent's clock) a closed serial port is tried again; None when none is."""
        due = [d for d in (s.next_due() for s in self.sources) if d is not None]
        return int(min(due) * 1000) if due else None

    def poll(self, now, seq, stamp, force=None):
        out = []
        t = time.monotonic()
        silence = t >= self._next_silence_check  # a silent line is said within a second of silent_after
        if silence:
            self._next_silence_check = t + 1.0
        for s in self.sources:
            if silence:
                s.check_silence()
            s.tick(t)
        items, self.ready = self.ready, []
        q = self.queue
        for _ in range(min(1000, len(q))):
            items.append(q.popleft())
        for unit_id, module, value, sub, extra in items:
            n = seq.next
            text = payload.reading(module, value, unit_id, sub, n, stamp, **extra)
            out.append((seq.take(), "%s/%s" % (self.base, module), text))
        return out

    def status_fields(self, m):
        if m.name != "device":
            return ()
        return ("lines", {s.cfg["port"]: s.report() for s in self.sources},
                "garbage_lines", sum(s.garbage for s in self.sources))

    def close(self):
        for s in self.sources:
            s.stop()
        for s in self.sources:
            s.join(3)
