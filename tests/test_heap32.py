"""The 32-bit MicroPython runner (toolchain/wasm.py) that bench/heap32.py counts
the heap with: a broken runner, a package that is not the pinned one or a VM
that is not 32-bit fails here (in CI) instead of printing wrong figures.

The same tiny scenario runs in the 32-bit WebAssembly port and in the 64-bit
unix port, in steps with a collection between two (the WebAssembly port
collects only between top-level calls, which `repeat` makes), so both count
live bytes the same way.
"""
import json
import math
import pathlib
import subprocess
import sys

import pytest

from harness import need
from toolchain import micropython as upy

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from toolchain import wasm  # noqa: E402

# Step 0 builds nothing; step 1 takes the baseline after a collection and
# makes 100 instances with two attributes each (and a list of 100 floats),
# step 2 measures them after a collection. The WebAssembly runner calls
# step() itself, one top-level call each (STEPPED); the unix port loops here.
STEPS = """\
import gc, sys
class Pair:
    def __init__(self, a, b):
        self.a = a
        self.b = b
keep = [None] * 100
state = {"n": 0}
def step():
    n = state["n"]
    state["n"] = n + 1
    if n == 1:
        state["base"] = gc.mem_alloc()
        for i in range(100):
            keep[i] = Pair(i, -i)
    elif n == 2:
        state["pairs"] = gc.mem_alloc() - state["base"]
        state["base"] = gc.mem_alloc()
        state["floats"] = [i + 0.5 for i in range(100)]
    elif n == 3:
        floats = gc.mem_alloc() - state["base"]
        print("RESULT", state["pairs"], floats, sys.maxsize)
        return False
    return True
if "STEPPED" not in globals():
    while step():
        gc.collect()
"""


def _need_wasm():
    reason = wasm.unavailable_reason()
    if reason:
        need(reason)


def _need_unix():
    reason = upy.unavailable_reason()
    if reason:
        need(reason)


def _result(proc):
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (proc.returncode, proc.stdout, proc.stderr)
    return [int(w) for w in lines[-1].split()[1:]]


def test_runner_says_why_when_node_or_the_package_is_missing(tmp_path, monkeypatch):
    assert "make upy32" in wasm.unavailable_reason(prefix=tmp_path)
    (tmp_path / "node_modules" / wasm.PACKAGE).mkdir(parents=True)
    (tmp_path / "node_modules" / wasm.PACKAGE / "package.json").write_text(json.dumps({"version": "1.27.0"}))
    (tmp_path / "node_modules" / wasm.PACKAGE / "micropython.mjs").write_text("")
    reason = wasm.unavailable_reason(prefix=tmp_path)
    assert "1.27.0" in reason and wasm.VERSION in reason
    monkeypatch.setattr(wasm.shutil, "which", lambda name: None)
    assert "Node.js not found" in wasm.unavailable_reason()
    with pytest.raises(RuntimeError, match="Node.js"):
        wasm.run("print(1)")


def test_the_vm_is_32_bit_and_instances_take_half_the_64_bit_heap(tmp_path):
    _need_wasm()
    _need_unix()
    small = _result(wasm.run("STEPPED = True\n" + STEPS, repeat="_more = step()\ngc.collect()\n"))
    script = tmp_path / "steps.py"
    script.write_text(STEPS)
    big = _result(upy.run(script, heap="1m"))
    assert small[2] == 2 ** 31 - 1, "not a 32-bit VM: sys.maxsize %d" % small[2]
    assert big[2] == 2 ** 63 - 1
    # 16-byte GC blocks on both sides: an instance and its 2-slot attribute
    # table are 2-3 blocks at 4-byte words, twice that at 8; a boxed float 1
    # block against 2 (measured: 3,776 B and 7,488 B for the pairs).
    for i, what in ((0, "100 two-attribute instances"), (1, "a list of 100 floats")):
        assert 0.40 <= small[i] / big[i] <= 0.60, "%s: %d B (32-bit) vs %d B (64-bit)" % (what, small[i], big[i])
    assert 3000 <= small[0] <= 4600, small


def test_collections_happen_between_top_level_calls_only():
    # What bench/heap32.py is built around: if a package version starts
    # collecting inside running code, the bench's stepping is to be revisited.
    _need_wasm()
    code = ("import gc\nb = gc.mem_alloc()\nx = [bytearray(200) for i in range(20)]\nx = None\n"
            "gc.collect()\nprint('inside', gc.mem_alloc() - b)\n")
    proc = wasm.run(code, repeat="print('next', gc.mem_alloc() - b)\n_more = False\n")
    words = dict(line.split() for line in proc.stdout.splitlines())
    assert int(words["inside"]) >= 20 * 200, proc.stdout
    assert int(words["next"]) < 200, proc.stdout


def test_files_romfs_argv_and_exit_status(tmp_path):
    _need_wasm()
    from toolchain.mpy import compile_file
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "__init__.py").write_text("")
    (src / "pkg" / "names.py").write_text("".join("def f%d(x):\n    return x + %d\n" % (i, i) for i in range(40)))
    compile_file(src / "pkg" / "names.py", tmp_path / "lib" / "pkg" / "names.mpy", source_name="pkg/names.py")
    compile_file(src / "pkg" / "__init__.py", tmp_path / "lib" / "pkg" / "__init__.mpy", source_name="pkg/__init__.py")
    image = tmp_path / "rom.img"
    mpremote = pathlib.Path(sys.executable).with_name("mpremote")
    subprocess.run([str(mpremote) if mpremote.exists() else "mpremote", "romfs", "--no-mpy", "-o", str(image),
                    "build", str(tmp_path / "lib")], check=True, capture_output=True)
    probe = ("import gc, sys\nb = gc.mem_alloc()\nfrom pkg import names\nprint(names.f39(1), names.__file__, "
             "gc.mem_alloc() - b, sys.argv[1:], open('note.txt').read())\n")
    flash = [("/flash/note.txt", src / "note.txt")]
    (src / "note.txt").write_text("hello")
    from_lib = wasm.run(probe, files=flash + wasm.tree("/lib", tmp_path / "lib"), args=["x", "a"], cwd="/flash")
    from_rom = wasm.run(probe, files=flash, romfs=image, args=["x", "b"], cwd="/flash")
    lib, rom = from_lib.stdout.split(), from_rom.stdout.split()
    assert lib[0] == rom[0] == "40" and lib[1].startswith("/lib/") and not rom[1].startswith("/lib/"), (lib, rom)
    assert lib[3:] == ["['a']", "hello"] and rom[3:] == ["['b']", "hello"]
    # Run in place from the image, the bytecode stays out of the heap.
    assert int(rom[2]) < int(lib[2]) - 500, (lib, rom)
    failed = wasm.run("import sys\nprint('before')\nraise ValueError('bad input')\n")
    assert failed.returncode == 1 and "ValueError: bad input" in failed.stderr and failed.stdout == "before\n"
    assert wasm.run("raise SystemExit(3)").returncode == 3
    saved = tmp_path / "saved"
    wasm.run("open('out.json', 'w').write('[1]')", cwd="/flash", save=[("/flash", saved)])
    assert json.loads((saved / "out.json").read_text()) == [1]


@pytest.mark.slow
def test_the_firmware_loop_runs_in_both_vms_and_the_32_bit_heap_is_the_smaller(capsys):
    # bench/heap32.py's scenario, 3 rounds: a firmware change that breaks it
    # in either VM (a fake it needs, a console line, a reading not published)
    # fails here, not only in `make bench`.
    _need_wasm()
    _need_unix()
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_heap32", ROOT / "bench" / "heap32.py")
    heap32 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(heap32)
    res = heap32.measure(rounds=3)
    assert res["32"] and res["64"], (res.get("why32"), res.get("why64"))
    a, b = res["32"], res["64"]
    assert a["maxsize"] == 2 ** 31 - 1 and b["maxsize"] == 2 ** 63 - 1
    assert a["readings"] == b["readings"] >= 12
    for key in ("code_objects", "rest", "peak", "budget"):
        assert 0 < a[key] < b[key], key
    # Objects at rest hold the code objects and the run-time objects; the
    # peak holds the objects at rest.
    assert a["code_objects"] < a["rest"] <= a["peak"] <= a["budget"]
    r = heap32.ratios(res)
    assert 1.4 <= r["budget"] <= 2.2 and 1.4 <= r["rest"] <= 2.2, r
    kb, used = heap32.equivalent(res)
    assert kb == math.ceil(24 * used) and used == max(r.values())
    heap32.report(res)
    out = capsys.readouterr().out
    assert "budget: loop phase 32-bit objects+peak %.1f KB of 24 KB: " % (a["budget"] / 1024.0) in out
    assert "64-bit equivalent of 24 KB: %dk (ratio %.2f" % (kb, used) in out
