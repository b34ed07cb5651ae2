"""Run code under a 32-bit MicroPython: the WebAssembly port under Node.js.

The unix port (toolchain/micropython.py) is 64-bit: its objects take about twice
the heap of an ESP8266's (8-byte words; 100 two-attribute instances, 7,488 B
there, 3,776 B here). The WebAssembly port has 4-byte words and 16-byte GC
blocks as on the ESP8266, so heap figures taken in it are a board's.

What differs from a board, and what a caller must allow for:
  * its heap grows on demand (`heapsize` is the first area, not a cap): a
    MemoryError will not come; measure gc.mem_alloc() instead;
  * gc.collect() inside running code only asks for a collection, done when
    control is back at the top level (between two runPython calls): a job
    that needs collections at chosen points runs in steps (`repeat`);
  * no socket, machine or network modules: a scenario brings in-VM fakes
    (put them in sys.modules before the code under test imports them);
  * files are written into the VM's in-memory filesystem before the code
    runs (`files`); a ROMFS image (`romfs`, as `mpremote romfs build` makes)
    is mounted at /rom, first on sys.path, and its .mpy code runs in place,
    outside the heap, as flash-resident code does on a board.

The npm package `@micropython/micropython-webassembly-pyscript` is pinned
(VERSION) and lives in the git-ignored `.npm-upy/` at the repository root,
where `make upy32` puts it; nothing is installed at import.

    from toolchain import wasm
    if wasm.unavailable_reason() is None:
        r = wasm.run("import sys; print(sys.maxsize)")
        r.stdout   # '2147483647\\n'
"""
import json
import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = "@micropython/micropython-webassembly-pyscript"
# 1.29.0-6 matches the unix port's MicroPython 1.29 (same .mpy version 6.3).
VERSION = "1.29.0-6"
PREFIX = ROOT / ".npm-upy"
RUNNER = pathlib.Path(__file__).resolve().with_name("wasm_run.mjs")
INSTALL = "make upy32"
# A first heap area large enough that no scenario here makes the VM collect
# or grow on its own: collections then happen where the code asks for them.
DEFAULT_HEAP = 1024 * 1024


def find_node():
    """Path of the `node` executable, or None."""
    return shutil.which("node") or shutil.which("nodejs")


def package_dir(prefix=PREFIX):
    return pathlib.Path(prefix) / "node_modules" / PACKAGE


def installed_version(prefix=PREFIX):
    """Version of the package in `prefix`, or None when it is not there."""
    try:
        meta = json.loads((package_dir(prefix) / "package.json").read_text())
    except (OSError, ValueError):
        return None
    if not (package_dir(prefix) / "micropython.mjs").exists():
        return None
    return meta.get("version")


def unavailable_reason(prefix=PREFIX):
    """Why the 32-bit VM cannot run here, or None when it can."""
    if find_node() is None:
        return ("Node.js not found: the 32-bit MicroPython (WebAssembly port) runs under it "
                "(`apt-get install nodejs npm`, then `%s`)" % INSTALL)
    version = installed_version(prefix)
    if version is None:
        return "%s is not installed in %s: run `%s` (needs npm)" % (PACKAGE, prefix, INSTALL)
    if version != VERSION:
        return "%s %s in %s, pinned %s: run `%s`" % (PACKAGE, version, prefix, VERSION, INSTALL)
    return None


def run(code, *, files=(), romfs=None, args=(), cwd="/", save=(), repeat=None, max_repeat=100000,
        heap=DEFAULT_HEAP, pystack=8192, timeout=120, prefix=PREFIX):
    """Run `code` in a fresh VM; return a CompletedProcess (text).

    files: (path in the VM, path on this host) pairs, written before the code
    runs (their folders made); romfs: path of a ROMFS image mounted at /rom;
    args: sys.argv; cwd: the VM's working directory (made if missing);
    repeat: code run after `code`, again and again while the global `_more`
    is true (at most max_repeat times), each time as a top-level call: the
    port collects garbage only between top-level calls (its gc.collect()
    inside running code only asks for one), so that is how a job gets a
    collection at chosen points;
    save: (folder in the VM, folder on this host) pairs copied out after the
    run (a board's flash for its next phase); heap: bytes of the first heap
    area; pystack: words."""
    reason = unavailable_reason(prefix)
    if reason:
        raise RuntimeError(reason)
    job = {"module": (package_dir(prefix) / "micropython.mjs").as_uri(), "heapsize": int(heap),
           "pystack": int(pystack), "files": [[str(d), str(s)] for d, s in files],
           "romfs": str(romfs) if romfs else None, "argv": [str(a) for a in args],
           "cwd": cwd, "save": [[str(v), str(h)] for v, h in save], "code": code,
           "repeat": repeat, "max_repeat": int(max_repeat)}
    return subprocess.run([find_node(), str(RUNNER)], input=json.dumps(job), capture_output=True,
                          text=True, timeout=timeout)


def tree(vm_dir, host_dir, suffixes=None):
    """(path in the VM, path on this host) pairs for every file under host_dir
    (or those whose suffix is in `suffixes`), for run(files=...)."""
    host_dir = pathlib.Path(host_dir)
    out = []
    for f in sorted(host_dir.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts and (suffixes is None or f.suffix in suffixes):
            out.append(("%s/%s" % (vm_dir.rstrip("/"), f.relative_to(host_dir).as_posix()), f))
    return out
