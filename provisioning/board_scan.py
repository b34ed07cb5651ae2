"""`neoc board scan PORT`: is it wired right? On any board `neoc flash`
reaches (a serial port, `auto`, socket:// for a virtual board), with or
without the firmware on it.

Over the flashing tool's link (toolchain/board_link.py), the few driver
files the survey needs are compiled here (mpy-cross, for the board's
architecture) and sent into a filesystem in the board's RAM, mounted first on
its import path: nothing is written to the flash and the board's own copies
(if any) are not used.
First drivers/survey.py with the bus code under it, then, once the scans
have said which addresses answer, only the drivers that may sit at them
(drivers.scan.CANDIDATES, the firmware's own table). The board reads its
I2C lines and scans (on the firmware's pins for its type: the firmware's
PINS table), the PC puts the facts into plain words (drivers/wiring/). The
board is soft-reset at the end: its RAM is as before and its firmware, if
any, runs again.
"""
import ast
import binascii
import json
import pathlib
import sys
import tempfile

import click

from drivers.scan import CANDIDATES
from drivers.wiring.explain import explain
from drivers.wiring.show import show
from toolchain.board_link import LinkError, arch_of, board_source
from toolchain.firmware import FIRMWARE, ROOT, literal
from toolchain.mpy import compile_file

PINS = literal(FIRMWARE / "neosensor" / "setup.py", "PINS")
BASE = ("drivers", "drivers.bus", "drivers.scan", "drivers.survey")

# Board side: a filesystem in RAM (a dict of .mpy bytes, mounted at /.neoc
# and first on sys.path), so the drivers are imported as modules from their
# bytecode, compiled here: compiling source on the board would need more
# heap than an ESP8266 has left, and nothing touches the flash. Each module
# is imported as it arrives and its bytes dropped, and the link's stage code
# (flashing only) goes first: 3 KB more for the drivers.
_LOADER = """\
import sys,gc,json,machine,vfs,io
from binascii import a2b_base64 as a2b
class _RamFS:
 def __init__(s):
  s.f={}
 def mount(s,r,m):
  pass
 def umount(s):
  pass
 def stat(s,p):
  p=p.strip('/')
  if p in s.f:
   return (0x8000,0,0,0,0,0,len(s.f[p]),0,0,0)
  for k in s.f:
   if k.startswith(p+'/'):
    return (0x4000,0,0,0,0,0,0,0,0,0)
  raise OSError(2)
 def open(s,p,m):
  b=s.f.get(p.strip('/'))
  if b is None:
   raise OSError(2)
  return io.BytesIO(b)
 def ilistdir(s,p):
  return iter(())
_R=_RamFS()
vfs.mount(_R,'/.neoc')
sys.path.insert(0,'/.neoc')
_K={}
for n in %r:
 globals().pop(n,None)
gc.collect()
"""

# One look at the bus: the lines, three scans, and with nothing heard, a
# scan with SDA and SCL exchanged.
_LISTEN = """\
import drivers.survey as S
_P=machine.Pin
_F={'lines':S.lines(_P,%(sda)d,%(scl)d)}
_B=machine.SoftI2C(scl=_P(%(scl)d),sda=_P(%(sda)d))
_H=S.listen(_B,3)
if not _H[1] and not any(_H[0]):
 _F['swapped']=S.swapped(machine.SoftI2C,_P,%(sda)d,%(scl)d)
 _B=machine.SoftI2C(scl=_P(%(scl)d),sda=_P(%(sda)d))
print(json.dumps([_H[0],_F.get('swapped')]))
"""
_SURVEY = """\
_F.update(S.survey(_B,3,3,_K,_H))
gc.collect()
_F['heap_free']=gc.mem_free()
print(json.dumps(_F))
_F=_H=None
gc.collect()
"""


def stage_names():
    """The names the link's stage code defines on the board (a scan does not use them)."""
    tree = ast.parse(board_source())
    return tuple([n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
                 + [t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                    if isinstance(t, ast.Name)])


def module_path(name):
    """drivers.bus -> ROOT/drivers/bus.py; drivers -> ROOT/drivers/__init__.py."""
    path = ROOT.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _module_level(node):
    """The statements run at import (not those inside a function: a lazy
    import is for a bus a board does not have, drivers/_smbus.py and co)."""
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield child
            yield from _module_level(child)


def needs(name):
    """Project modules a module imports when it is imported (its drivers.* imports)."""
    found = []
    for node in _module_level(ast.parse(module_path(name).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("drivers"):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("drivers")]
    return found


def closure(names, have=()):
    """names and what they import, each after what it needs, minus `have`."""
    order, seen = [], set(have)

    def visit(n):
        if n in seen:
            return
        seen.add(n)
        if n != "drivers":
            visit(n.rpartition(".")[0])
        for m in needs(n):
            visit(m)
        order.append(n)
    for n in names:
        visit(n)
    return order


def drivers_for(addresses):
    """The driver modules that may sit at these addresses (drivers.scan's table)."""
    out = []
    for a in addresses:
        for module, _ in CANDIDATES.get(a, ()):
            if module not in out:
                out.append(module)
    return out


class BoardScan:
    """One scan session on an opened Link: modules loaded once, drivers kept
    between samples (--watch reads, it does not identify again)."""

    def __init__(self, link):
        self.link = link
        info = link.info
        self.kind = info["board"] if info["board"] in PINS else "esp8266"
        self.sda, self.scl = PINS[self.kind]
        self.loaded = set()
        self.sent = 0          # .mpy bytes sent to the board's RAM
        self.arch = arch_of(info["mpy"])
        self.feed = ""
        if info.get("main"):
            # A firmware ran and armed its watchdog: take it and feed it in every script.
            link.feed_watchdog()
            self.feed = "W.feed()\n"
        self.link.run(_LOADER % (stage_names(),))
        self.load(BASE)

    def load(self, names):
        for name in closure(names, self.loaded):
            src = module_path(name)
            if not src.exists():
                continue       # not a module of this tree: drivers.scan skips it as "not installed"
            with tempfile.TemporaryDirectory() as tmp:
                data = compile_file(src, pathlib.Path(tmp) / "m.mpy", self.arch,
                                    source_name=name.replace(".", "/") + ".py").read_bytes()
            # One script a file, imported at once (closure() put what it
            # imports before it) and its bytes dropped: the script's text, the
            # bytes and the loaded module share the heap only one file at a time.
            script = "_R.f[%r]=a2b(%s)\n__import__(%r)\n_R.f.clear()\ngc.collect()" % (
                (name + ".__init__" if src.name == "__init__.py" else name).replace(".", "/") + ".mpy",
                binascii.b2a_base64(data, newline=False), name)
            try:
                self.link.run(self.feed + script)
            except LinkError as e:
                if "MemoryError" not in str(e):
                    raise
                raise LinkError("the board has too little free memory for the drivers of all these chips (%d B "
                                "free when the scan began, %d B of drivers sent): scan fewer breakouts at a time"
                                % (self.link.info.get("heap_free") or 0, self.sent)) from None
            self.loaded.add(name)
            self.sent += len(data)

    def facts(self):
        heard, swapped = json.loads(self.link.run(self.feed + _LISTEN % {"sda": self.sda, "scl": self.scl}))
        answered = sorted({a for found in heard for a in found})
        if len(answered) <= 100:
            self.load(drivers_for(answered + list(swapped or ())))
        return json.loads(self.link.run(self.feed + _SURVEY, timeout=60))

    def sample(self):
        facts = self.facts()
        report = explain(facts, self.kind)
        report["facts"] = facts
        found = sum(1 for r in report["rows"] if r["chip"] != "?")
        report["header"] = "%s (%s, %s; SDA GPIO%d, SCL GPIO%d): %d chip(s) identified, %d unknown address(es)" % (
            self.link.port, self.kind, self.link.info.get("mac") or "no MAC", self.sda, self.scl, found,
            len(report["rows"]) - found)
        return report


@click.command("scan")
@click.argument("port")
@click.option("--watch", is_flag=True, help="Refresh every second (in place on a terminal) until Ctrl-C: "
              "breathe on a sensor and see its value move.")
@click.option("--count", type=click.IntRange(min=1), metavar="N", help="Refresh N times, then stop (implies --watch).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per refresh (rows, problems, the raw facts).")
@click.option("--baud", type=int, default=115200, show_default=True, help="Serial speed of the REPL.")
def scan(port, watch, count, as_json, baud):
    """Is it wired right? Scan the I2C bus of the board at PORT (a serial
    device, `auto`, or socket://HOST:PORT for a virtual board), identify each
    chip as the firmware does, read each once, and name every problem in
    plain words with its likely cause: nothing on the bus, SDA/SCL swapped,
    a line held low, no pull-ups, an unknown chip, a wrong identity, CRC
    failures, a reading out of range, two chips on one address, a chip that
    answers now and then.

    Works on a board with only MicroPython on it: the driver files go to its
    RAM, never to its flash; the board is soft-reset at the end (its
    firmware, if any, runs again). Exit status 1 when a problem was found."""
    from provisioning.flash import board_session
    with board_session(port, baud) as link:
        last = show(BoardScan(link).sample, as_json, watch or count is not None, count)
    sys.exit(1 if last and last["problems"] else 0)
