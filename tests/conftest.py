import os
import pathlib
import signal
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from harness import (IN_CI, MicroPythonRunner, PORTABLE_DIR, PortableModule,  # noqa: E402
                     make_tls_files, need)
from toolchain import micropython as upy  # noqa: E402
from provisioning import mosquitto as mq  # noqa: E402

# A shell that starts a command in the background (`make test &` in a script)
# starts it with SIGINT ignored, and every process started from here would
# inherit that: the tests that press Ctrl-C on a command (tests/test_demo.py,
# tests/test_docs_guide.py) would wait for an exit that never comes. A handler
# is reset to the default at exec, so the commands get a Ctrl-C that works.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_pycollect_makemodule(module_path, parent):
    if module_path.parent == PORTABLE_DIR and module_path.name.startswith("test_"):
        return PortableModule.from_parent(parent, path=module_path)
    return None


@pytest.fixture
def micropython(tmp_path):
    """Runner for the MicroPython unix port; its cwd (the board's flash) is a temp dir."""
    reason = upy.unavailable_reason()
    if reason:
        need(reason)
    flash = tmp_path / "flash"
    flash.mkdir()
    return MicroPythonRunner(flash)


def _need_mosquitto():
    if mq.find("mosquitto") is None or mq.find("mosquitto_passwd") is None:
        need("Mosquitto is not installed: `sudo apt-get install mosquitto` (make test does it as root)")


@pytest.fixture
def tls_files(tmp_path):
    return make_tls_files(tmp_path)


@pytest.fixture
def mosquitto(tmp_path, tls_files):
    """Factory for real Mosquitto brokers on free loopback ports:
    `mosquitto(users={...}, acl=Acl())` -> started `provisioning.mosquitto.Mosquitto`
    with a password file, an ACL file, anonymous access refused, and a TLS
    listener (`.tls_port`) signed by the throw-away CA `tls_files["ca"]`."""
    _need_mosquitto()
    started = []

    def start(users=None, acl=None, tls=True, port=None):
        workdir = tmp_path / ("mosquitto%d" % len(started))
        tls_tuple = (str(tls_files["ca"]), str(tls_files["cert"]), str(tls_files["key"])) if tls else None
        broker = mq.Mosquitto(workdir, users=users, acl=acl, tls=tls_tuple, port=port)
        started.append(broker)
        return broker.start()

    yield start
    for broker in started:
        broker.stop()
        # Shown by pytest only when the test failed.
        print("--- mosquitto log (%s:%d)\n%s" % (broker.host, broker.port, broker.log()))


@pytest.fixture(scope="module")
def stub(tmp_path_factory):
    """A `neoc server` on the embedded broker, shared by the tests of one module
    (a module may override it, e.g. to run on Mosquitto too)."""
    from provisioning.stub_process import StubServer
    s = StubServer(tmp_path_factory.mktemp("stub"), broker="embedded")
    s.start()
    yield s
    s.stop()
    print(s.output())
