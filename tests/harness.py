"""Test harness pieces used by conftest.py: the MicroPython runner, the
portable-test collector and the Mosquitto fixture helpers."""
import os
import pathlib
import re
import subprocess

import pytest

from toolchain import micropython as upy
from virtual_board import DEFAULT_HEAP

ROOT = pathlib.Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
PORTABLE_DIR = TESTS / "portable"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Import path of portable code under MicroPython: the project root (neocampus,
# drivers), the firmware's vendored libs, and the portable tests themselves.
PORTABLE_PATH = [ROOT, ROOT / "firmware" / "lib", PORTABLE_DIR]


def need(reason):
    """Skip a test for a missing tool, except in CI where that is a failure."""
    if IN_CI:
        pytest.fail("CI must have this: " + reason, pytrace=False)
    pytest.skip(reason)


class MicroPythonError(AssertionError):
    pass


class MicroPythonRunner:
    """Runs code under the real unix port; fails with the VM's traceback."""

    def __init__(self, flash_dir):
        self.flash_dir = pathlib.Path(flash_dir)

    def run(self, script=None, *, code=None, module=None, args=(), heap=DEFAULT_HEAP, path=(),
            cwd=None, timeout=60, check=True, env=None, portable=True):
        """portable=False leaves the project's sources off the import path, so
        only what `path` names (e.g. compiled .mpy) can be imported."""
        result = upy.run(script, code=code, module=module, args=args, heap=heap,
                         path=[*path, *(PORTABLE_PATH if portable else ())], cwd=cwd or self.flash_dir,
                         timeout=timeout, env=env)
        if check and result.returncode != 0:
            raise MicroPythonError("MicroPython exited %d\n--- stdout\n%s\n--- stderr\n%s"
                                   % (result.returncode, result.stdout, result.stderr))
        return result


# -- portable tests: one file, two interpreters ---------------------------------
HEAP_RE = re.compile(r"^MICROPYTHON_HEAP\s*=\s*[\"'](\w+)[\"']", re.M)
MPY_RE = re.compile(r"^MICROPYTHON_MPY\s*=\s*[\"']([\w, ]+)[\"']", re.M)


class PortableModule(pytest.Module):
    """A test module under tests/portable/: each test_* function becomes two
    items, [cpython] run in-process and [micropython] run in the unix port (the
    whole module runs once in one VM; items read their own result)."""

    _upy_results = None

    def collect(self):
        for item in super().collect():
            if not isinstance(item, pytest.Function):
                yield item
                continue
            base = item.originalname
            yield CPythonItem.from_parent(self, name=base + "[cpython]", callobj=item.obj)
            yield MicroPythonItem.from_parent(self, name=base + "[micropython]", funcname=base)

    def upy_results(self):
        if self._upy_results is None:
            self._upy_results = self._run_upy()
        return self._upy_results

    def _run_upy(self):
        reason = upy.unavailable_reason()
        if reason:
            return reason
        source = self.path.read_text()
        m = HEAP_RE.search(source)
        heap = m.group(1) if m else DEFAULT_HEAP
        proc = run_portable(self.path, heap)
        results = {}
        current = None
        lines = []
        for line in proc.stdout.splitlines():
            if line.startswith("\x01end"):
                if current:
                    results[current[0]] = (current[1], "\n".join(lines).strip())
                current, lines = None, []
            elif line.startswith("\x01"):
                name, status = line[1:].split("\t")
                current, lines = (name, status), []
            else:
                lines.append(line)
        results["__proc__"] = proc
        results["__heap__"] = heap
        return results


def run_portable(path, heap, timeout=300):
    """Run every test_* function of a portable test module in one MicroPython VM.

    The VM sees the project through symlinks of fixed-length names in a temp
    dir: path strings live in the GC heap, and with margins of 1-3 KB at 36 KB
    a longer checkout path (CI clones elsewhere) must not change the outcome."""
    import tempfile
    path = pathlib.Path(path)
    source = path.read_text()
    with tempfile.TemporaryDirectory(prefix="upy-") as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "f").mkdir()
        extra = compile_packages(source, tmp / "m", path)
        links = []
        for i, target in enumerate(PORTABLE_PATH):
            link = tmp / ("p%d" % i)
            link.symlink_to(target)
            links.append(link)
        # Copied, not linked: the unix port puts the script's realpath on sys.path.
        runner = tmp / "r.py"
        runner.write_bytes((TESTS / "upy_runner.py").read_bytes())
        return upy.run(runner, args=[path.stem], heap=heap, path=[*extra, *links],
                       cwd=tmp / "f", timeout=timeout)


def compile_packages(source, dest, module=None):
    """`MICROPYTHON_MPY = "neocampus"` (comma-separated top-level packages) in a
    portable test module: those packages are imported as .mpy compiled by
    mpy-cross, as boards run them, instead of being compiled from source in the
    VM's heap (compiling a 200-line module from source needs ~26 KB of heap on
    the 64-bit port). The name "self" compiles the test module itself (path
    `module`); the name of a helper module in tests/portable compiles that one. Returns the extra import path (first on MICROPYPATH)."""
    m = MPY_RE.search(source)
    if not m:
        return []
    from toolchain import mpy
    for name in m.group(1).split(","):
        name = name.strip()
        if name == "self":
            if module is not None:
                module = pathlib.Path(module)
                mpy.compile_file(module, pathlib.Path(dest) / (module.stem + ".mpy"))
            continue
        helper = PORTABLE_DIR / (name + ".py")
        if helper.exists():  # a shared helper module of the portable tests
            mpy.compile_file(helper, pathlib.Path(dest) / (name + ".mpy"))
        else:
            mpy.compile_tree(ROOT / name, pathlib.Path(dest) / name)
    return [dest]


class CPythonItem(pytest.Function):
    def runtest(self):
        try:
            super().runtest()
        except Exception as e:
            # portable_support.SkipTest: skipped on this interpreter only.
            if type(e).__name__ == "SkipTest":
                pytest.skip("under CPython: %s" % e)
            raise


class MicroPythonItem(pytest.Item):
    def __init__(self, *, funcname, **kwargs):
        super().__init__(**kwargs)
        self.funcname = funcname
        self.add_marker("micropython")

    def runtest(self):
        results = self.parent.upy_results()
        if isinstance(results, str):
            need(results)
        if self.funcname not in results:
            proc = results["__proc__"]
            raise MicroPythonError("MicroPython run of %s (heap %s) ended before %s: exit %d\n%s\n%s"
                                   % (self.parent.path.name, results["__heap__"], self.funcname,
                                      proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
        status, text = results[self.funcname]
        if status == "skip":
            pytest.skip("under MicroPython: " + text.strip().splitlines()[-1])
        if status != "ok":
            raise MicroPythonError("under MicroPython (heap %s):\n%s" % (results["__heap__"], text))

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, MicroPythonError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, "%s[micropython]" % self.funcname


# -- throw-away CA for TLS listeners --------------------------------------------
def make_tls_files(directory, name="localhost"):
    """A CA and a server certificate for 127.0.0.1/localhost, as PEM files."""
    import trustme
    directory = pathlib.Path(directory)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"ca": directory / ("%s-ca.pem" % name), "cert": directory / ("%s-cert.pem" % name),
             "key": directory / ("%s-key.pem" % name)}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    cert.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    cert.private_key_pem.write_to_path(str(paths["key"]))
    return paths


def wait_until(fn, timeout, what):
    """fn()'s first truthy result within `timeout` s, polled every 0.2 s; else
    an AssertionError naming `what` was awaited."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("timed out (%.0f s) waiting for %s" % (timeout, what))


def chained_step(request, shared, console):
    """One step of a chain of tests sharing one long-lived rig (`shared`,
    with a `passed` set): a generator for a fixture. A step that passed is
    noted; one that failed prints the last console lines (console() -> the
    lines since the step began) for its report."""
    failed = request.session.testsfailed
    start = console()
    yield shared
    if request.session.testsfailed == failed:
        shared.passed.add(request.node.originalname)
    else:
        print(start())


def needs_step(shared, name):
    """Fail at once when the step this one builds on did not pass."""
    if name not in shared.passed:
        pytest.fail("needs %s, which did not pass on this board" % name, pytrace=False)
