"""A session with a board's REPL through mpremote's transport (as a
library): the raw REPL with raw-paste, the board-side stage-and-switch
code loaded once (firmware/neosensor/stage.py, the over-the-air update's own
module), and file content sent as base64 (deflated when the board has
`deflate`) in a few large scripts instead of one 256-byte script per chunk.

Every byte written to the link is counted (`sent`), and the file content
in it (`content`), so tests and the benchmark can tell what went over.
"""
import ast
import binascii
import time
import zlib

from toolchain.firmware import FIRMWARE

STAGE_SOURCE = FIRMWARE / "neosensor" / "stage.py"
# File bytes per script: its base64 text, the bytes object compiled from it,
# the decoded copy and the inflated one sit in the board's heap together
# (~3.4 times this undeflated, ~14 KB), in the heap left once the firmware
# was interrupted.
CHUNK = 4096
# And never more than a sixth of the heap the probe found free: a board
# whose firmware ran has less room than a blank one (the probe first drops
# the firmware's modules from sys.modules; the soft reset at the end loads
# them again).
MIN_CHUNK = 512
# mpy version this toolchain's mpy-cross writes (sys.implementation._mpy's low byte).
MPY_VERSION = 6
# sys.implementation._mpy >> 10 -> mpy-cross -march (py/persistentcode.h's MP_NATIVE_ARCH_*).
ARCHS = {0: None, 1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em", 7: "armv7emsp",
         8: "armv7emdp", 9: "xtensa", 10: "xtensawin", 11: "rv32imc"}

# The interrupted firmware's modules let go before the stage code is
# compiled: on a running 45k board that code does not fit beside them.
_FREE = """\
import sys,gc
for k in list(sys.modules):
 if k.split('.')[0] in ('neosensor','neocampus','drivers','umqtt'):
  del sys.modules[k]
gc.collect()
"""
_PROBE = """\
import sys,gc,os
try:
 import vboard
 kind=vboard.board.get('board')
except ImportError:
 kind=sys.platform
 vboard=None
try:
 import network
 mac=network.WLAN(network.STA_IF).config('mac')
 mac=':'.join('%02x'%b for b in mac)
except Exception:
 mac=None
gc.collect()
st=os.statvfs('/')
try:
 from deflate import DeflateIO,RAW
 from io import BytesIO
 z=1
except ImportError:
 z=0
rom=partition()
from binascii import a2b_base64 as a2b
print(repr({'board':kind,'platform':sys.platform,'version':'.'.join(str(v) for v in sys.implementation.version[:3]),
 'machine':getattr(sys.implementation,'_machine',''),'mpy':getattr(sys.implementation,'_mpy',0),'mac':mac,
 'heap_free':gc.mem_free(),'flash_free':st[0]*st[3],'flash_size':st[0]*st[2],'deflate':z,'partition':rom,'virtual':vboard is not None,
 'main':'main.py' in os.listdir('/')}))
del vboard
"""


class LinkError(RuntimeError):
    pass


# stage.py's functions only the over-the-air update calls (ota.py imports
# them on the board): not sent, the REPL compiles the source in the heap
# the interrupted firmware left.
UPDATE_ONLY = {"restore", "_handoff", "finish"}


def board_source(path=STAGE_SOURCE):
    """stage.py as sent: docstrings, comments and UPDATE_ONLY left out (fewer
    bytes to send and to compile in the board's heap), the code itself
    unchanged."""
    tree = ast.parse(path.read_text())
    tree.body = [n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name in UPDATE_ONLY)]
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            body.pop(0)
            if not body:
                body.append(ast.Pass())
    return ast.unparse(tree) + "\n"


def arch_of(mpy):
    """mpy-cross -march for a board's sys.implementation._mpy; LinkError
    when its bytecode version is not this toolchain's."""
    if mpy & 0xFF != MPY_VERSION:
        raise LinkError("the board's MicroPython loads .mpy version %d, this toolchain writes version %d: "
                        "flash a MicroPython 1.23 or later (neoc flash --micropython FIRMWARE.bin)"
                        % (mpy & 0xFF, MPY_VERSION))
    return ARCHS.get(mpy >> 10)


class Link:
    """One session on a board's REPL. `port`: a serial device or socket://HOST:PORT."""

    def __init__(self, port, baudrate=115200, timeout=30):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport
        self.port, self.timeout = port, timeout
        self.sent = 0        # bytes written to the link
        self.content = 0     # file bytes among them (before encoding)
        self.scripts = 0     # scripts run: the round trips
        self.smaller = 0     # scripts sent again, halved, after a MemoryError
        try:
            self.t = SerialTransport(port, baudrate=baudrate)
        except TransportError as e:
            raise LinkError("cannot open %s: %s" % (port, e)) from None
        write = self.t.serial.write

        def counted(data):
            self.sent += len(data)
            return write(data)
        self.t.serial.write = counted
        self.t.read_until = self._read_until
        sock = getattr(self.t.serial, "_socket", None)
        if sock is not None:
            # socket:// (a virtual board, a serial-over-TCP bridge): the REPL
            # is an exchange of small writes, which Nagle's algorithm would
            # hold back for the peer's delayed ACK (~40 ms a script).
            import socket
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.info = None
        self._feed = False

    def _read_until(self, min_num_bytes, ending, timeout=10, data_consumer=None, timeout_overall=None):
        """mpremote's read_until, with blocking reads instead of polling
        every 10 ms: a script's round trip then costs the link's latency,
        not three 10 ms naps (the same bytes, the same endings)."""
        ser = self.t.serial
        data = b""
        deadline = None if timeout_overall is None else time.monotonic() + timeout_overall
        while not data.endswith(ending):
            wait = timeout
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                wait = left if wait is None else min(wait, left)
            ser.timeout = wait
            c = ser.read(1)
            if not c:
                break      # timed out: the caller sees no ending, as with mpremote's
            if data_consumer:
                data_consumer(c)
                data = c
            else:
                data += c
        return data

    def open(self):
        """Interrupt the firmware, enter the raw REPL, load the stage code,
        and read what the board is (self.info)."""
        for attempt in (1, 2):
            try:
                self.t.enter_raw_repl(soft_reset=False)
                break
            except Exception as e:
                # A board that is booting (or was just reset by its
                # watchdog) misses the first Ctrl-C: once more, later.
                if attempt == 2:
                    raise LinkError("no raw REPL on %s: %s" % (self.port, e)) from None
                time.sleep(1.5)
        # Two scripts, not one: the board compiles each in its heap, and a
        # raw-paste buffer grows by doubling.
        self.run(_FREE)
        self.run(board_source())
        self.info = ast.literal_eval(self.run(_PROBE).strip())
        return self.info

    def run(self, code, timeout=None):
        """Run a script on the board; its printed output (text)."""
        from mpremote.transport import TransportError
        self.scripts += 1
        try:
            out, err = self.t.exec_raw(code, timeout=timeout or self.timeout)
        except (TransportError, OSError) as e:
            raise LinkError("link to %s lost: %s" % (self.port, e)) from None
        if err:
            raise LinkError("the board failed: %s" % err.decode(errors="replace").strip().splitlines()[-1])
        return out.decode(errors="replace")

    def feed_watchdog(self):
        """The firmware arms a 30 s watchdog that keeps running once it is
        interrupted: take it again (same timeout) and feed it in every
        script that sends, so a long flash over a slow UART is not reset."""
        self.run("import machine\nW=machine.WDT(timeout=30000)")
        self._feed = True

    def read_json(self, path):
        """A small JSON file of the board, decoded here; None when absent or not JSON."""
        import json
        text = self.run("try:\n with open(%r) as f:print(f.read())\nexcept OSError:\n pass" % path)
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            return None

    def listing(self, resume=False):
        """{path: sha256 hex} of every file on the board, in one script run;
        with resume, a switch a cut left half done is finished first and
        (finished, listing) returned."""
        found = {}
        lines = self.run("print(resume())\nlisting()" if resume else "listing()").splitlines()
        finished = resume and lines and lines.pop(0).strip() == "True"
        for line in lines:
            sha, _, path = line.strip().partition(" ")
            if path:
                found[path] = sha
        return (finished, found) if resume else found

    def send(self, files, progress=None):
        """Stage files [(path on the board, bytes, sha256 hex)]; returns the
        paths whose copy the board verified. Small files share a script, a
        big one spans several; progress(files done, bytes) after each script.
        Scripts are sized from the board's free heap; one that still meets a
        MemoryError (a heap in pieces) is sent again, with the files not yet
        verified, in scripts half the size (self.smaller counts it)."""
        chunk = CHUNK
        if self.info and self.info.get("heap_free"):
            chunk = max(MIN_CHUNK, min(CHUNK, self.info["heap_free"] // 6 // 256 * 256))
        good = []
        while True:
            try:
                return self._send([f for f in files if f[0] not in good], progress, chunk, good)
            except LinkError as e:
                if "MemoryError" not in str(e) or chunk <= MIN_CHUNK:
                    raise
                chunk //= 2
                self.smaller += 1

    def _send(self, files, progress, chunk, good):
        deflate = bool(self.info and self.info.get("deflate"))
        script, pending = [], []
        size = 0

        def flush():
            out = self.run("\n".join((["W.feed()"] if self._feed else []) + script)).split()
            good.extend(p for p, ok in zip(pending, out) if ok == "True")
            if progress:
                progress(len(pending), size)
            script.clear()
            pending.clear()

        for path, data, sha in files:
            script.append("begin(%r)" % path)
            for i in range(0, len(data), chunk):
                if size >= chunk:
                    flush()
                    size = 0
                piece = data[i:i + chunk]
                script.append(self._write(piece, deflate))
                size += len(piece)
                self.content += len(piece)
            script.append("print(end(%r))" % sha)
            pending.append(path)
        if script:
            flush()
        return good

    @staticmethod
    def _write(piece, deflate):
        if deflate:
            c = zlib.compressobj(wbits=-9)
            packed = c.compress(piece) + c.flush()
            if len(packed) < len(piece):
                return "write(DeflateIO(BytesIO(a2b(%s)),RAW,9).read())" % binascii.b2a_base64(packed,
                                                                                            newline=False)
        return "write(a2b(%s))" % binascii.b2a_base64(piece, newline=False)

    def reset(self):
        """Leave the raw REPL and soft-reset: boot.py and main.py run again."""
        try:
            self.t.exit_raw_repl()
            self.t.serial.write(b"import machine\r\nmachine.soft_reset()\r\n")
            # Wait for the REPL's echo of it: a link closed with unread
            # input is reset (TCP RST), which may drop the line unsent.
            self.t.read_until(1, b"soft_reset()", timeout=3)
        except OSError as e:
            raise LinkError("link to %s lost: %s" % (self.port, e)) from None

    def close(self):
        try:
            self.t.close()
        except Exception:
            pass
