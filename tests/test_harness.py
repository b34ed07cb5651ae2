"""The harness itself: the MicroPython runner is the real VM and reports failures."""
import subprocess
import sys

import pytest

from harness import MicroPythonError, ROOT


def test_runner_is_the_real_micropython_vm_with_the_requested_heap(micropython):
    out = micropython.run(code="import sys, gc; gc.collect(); print(sys.implementation.name, gc.mem_free() + gc.mem_alloc())",
                          heap="36k").stdout.split()
    assert out[0] == "micropython"
    # The GC heap is what -X heapsize asked for (a few bytes go to bookkeeping).
    assert 30000 < int(out[1]) <= 36 * 1024


def test_runner_failure_shows_the_micropython_traceback(micropython):
    with pytest.raises(MicroPythonError) as info:
        micropython.run(code="def f():\n  raise ValueError('boom from upy')\nf()\n")
    assert "boom from upy" in str(info.value)
    assert "Traceback" in str(info.value)


def test_runner_heap_limit_is_real(micropython):
    # 36 KB cannot hold a 64 KB buffer: the VM must say MemoryError.
    with pytest.raises(MicroPythonError, match="MemoryError"):
        micropython.run(code="b = bytearray(64 * 1024)", heap="36k")


def test_flash_dir_is_the_working_directory(micropython):
    micropython.run(code="f = open('probe.txt', 'w'); f.write('x'); f.close()")
    assert (micropython.flash_dir / "probe.txt").read_text() == "x"


def test_neoc_help_lists_subcommands():
    neoc = [sys.executable, "-m", "neoc"]
    out = subprocess.run(neoc + ["--help"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert "Usage: neoc" in out
    assert "Commands" in out or "COMMAND" in out
