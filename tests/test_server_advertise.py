"""The stub tells devices where its broker is: `server` and `port` in the
credentials answer, the protocol's per-device override fields, so that a
device pointed at the stub (a real neOSensor, `neoc board run` without
--broker) dials the stub's broker instead of the campus one."""
import asyncio
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import aiohttp
import pytest
import requests

from provisioning.admin_client import AdminClient
from provisioning.mosquitto import free_port
from provisioning.registry import Registry
from provisioning.server import LISTENER, Stub, advertised_broker, check_broker_address

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAC = "02:ad:0e:00:00:01"


def credentials(url, mac):
    r = requests.get(url + "/device/credentials", params={"mac": mac}, timeout=5)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


# -- the running stub on its defaults (conftest's `neoc server`) ------------------
def test_answer_carries_the_stubs_broker_first_and_later(stub):
    stub.admin.add_device(MAC, location="u4/302")
    first = credentials(stub.url, MAC)
    assert "password" in first
    assert (first["server"], first["port"]) == ("127.0.0.1", stub.mqtt_port)
    later = credentials(stub.url, MAC)
    assert later == {"login": first["login"], "server": "127.0.0.1", "port": stub.mqtt_port}
    assert "devices are sent the broker 127.0.0.1:%d\n" % stub.mqtt_port in stub.output()


def test_a_per_device_override_wins(stub):
    both, host_only, port_only = "02:ad:0e:00:00:02", "02:ad:0e:00:00:03", "02:ad:0e:00:00:04"
    stub.admin.add_device(both, location="u4/302", server="campus.example", port=8883)
    stub.admin.add_device(host_only, location="u4/302", server="campus.example")
    stub.admin.add_device(port_only, location="u4/302", port=8883)
    for _ in range(2):  # with the password, then without
        assert (credentials(stub.url, both)["server"], credentials(stub.url, both)["port"]) == \
            ("campus.example", 8883)
        # The advertised port belongs to the advertised host: never paired with another.
        answer = credentials(stub.url, host_only)
        assert answer["server"] == "campus.example" and "port" not in answer
        answer = credentials(stub.url, port_only)
        assert (answer["server"], answer["port"]) == ("127.0.0.1", 8883)


# -- Stub's constructor argument, in process ------------------------------------
def _credentials_in_process(tmp_path, advertise, add=None):
    """Two credentials calls to an in-process Stub(advertise=...) on loopback ports."""
    async def main(mqtt_port):
        kw = {} if advertise is LISTENER else {"advertise": advertise}
        stub = Stub(tmp_path / "data", http=("127.0.0.1", 0), mqtt=("127.0.0.1", mqtt_port), token="t", **kw)
        try:
            await stub.start()
            stub.registry.add_device(MAC, "u4/302", **(add or {}))
            url = "http://127.0.0.1:%d/device/credentials" % stub.http_port
            answers = []
            async with aiohttp.ClientSession() as http:
                for _ in range(2):
                    async with http.get(url, params={"mac": MAC}) as r:
                        assert r.status == 200
                        answers.append(await r.json())
            return answers, stub.describe(), mqtt_port
        finally:
            await stub.stop()

    for attempt in range(3):  # the free port picked may be taken before the broker binds it
        try:
            return asyncio.run(main(free_port()))
        except (OSError, RuntimeError) as e:
            if "address already in use" not in str(e).lower() or attempt == 2:
                raise


def test_stub_advertises_its_listener_by_default(tmp_path):
    (first, later), described, port = _credentials_in_process(tmp_path, LISTENER)
    assert (first["server"], first["port"]) == (later["server"], later["port"]) == ("127.0.0.1", port)
    assert "password" in first and "password" not in later


def test_stub_advertise_none_sends_no_broker(tmp_path):
    (first, later), described, _ = _credentials_in_process(tmp_path, None)
    assert set(first) == {"login", "password"} and set(later) == {"login"}
    assert "no broker advertised" in described


def test_stub_advertise_none_keeps_the_per_device_override(tmp_path):
    (first, later), _, _ = _credentials_in_process(tmp_path, None, add={"server": "campus.example", "port": 1884})
    assert (later["server"], later["port"]) == ("campus.example", 1884)


def test_stub_advertises_the_address_it_is_given(tmp_path):
    (first, later), described, _ = _credentials_in_process(tmp_path, ("neoc-pi.local", 1884))
    assert (later["server"], later["port"]) == ("neoc-pi.local", 1884)
    assert "devices are sent the broker neoc-pi.local:1884" in described


@pytest.mark.parametrize("bad", [("0.0.0.0", 1883), ("::", 1883), ("[::]", 1883), ("", 1883),
                                 ("broker lan", 1883), ("broker.lan", 0), ("broker.lan", "1883"),
                                 ("broker.lan", True), ("mqtt://broker.lan", 1883), ("1:2:x", 1883),
                                 "broker.lan:1883", ()])
def test_a_broker_no_device_can_dial_is_refused(bad):
    with pytest.raises(ValueError):
        Stub(advertise=bad)


def test_addresses_a_device_can_dial_are_kept():
    for ok in [("broker.lan", 1883), ("10.0.0.2", 8883), ("fd00::2", 1883), ("[fd00::2]", 1883)]:
        assert check_broker_address(ok) == ok


def test_a_wildcard_listener_is_advertised_as_this_machines_hostname():
    for wildcard in ("0.0.0.0", "::"):
        address, note = advertised_broker(LISTENER, wildcard, 1883)
        assert address == (socket.gethostname(), 1883)
        assert "hostname" in note and wildcard in note and "--advertise-broker" in note
    assert advertised_broker(LISTENER, "192.168.1.20", 1883) == (("192.168.1.20", 1883), "")
    assert advertised_broker(None, "0.0.0.0", 1883) == (None, "")
    assert advertised_broker(("pi.lan", 1884), "0.0.0.0", 1883) == (("pi.lan", 1884), "")


def test_registry_merges_the_advertised_broker_with_overrides(tmp_path):
    reg = Registry(tmp_path / "r.sqlite3")
    macs = {"none": "02:ad:0e:00:01:01", "both": "02:ad:0e:00:01:02", "host": "02:ad:0e:00:01:03",
            "port": "02:ad:0e:00:01:04"}
    reg.add_device(macs["none"], "u4/302")
    reg.add_device(macs["both"], "u4/302", server="campus.example", port=8883)
    reg.add_device(macs["host"], "u4/302", server="campus.example")
    reg.add_device(macs["port"], "u4/302", port=8883)

    def broker_of(kind, advertised):
        a = reg.credentials(macs[kind], broker=advertised)
        return a.get("server"), a.get("port")

    stub = ("stub.lan", 1884)
    assert broker_of("none", stub) == stub and broker_of("none", None) == (None, None)
    assert broker_of("both", stub) == broker_of("both", None) == ("campus.example", 8883)
    assert broker_of("host", stub) == broker_of("host", None) == ("campus.example", None)
    assert broker_of("port", stub) == ("stub.lan", 8883) and broker_of("port", None) == (None, 8883)
    reg.close()


# -- the command line --------------------------------------------------------------
def neoc(*args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NEOC_ADMIN_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "neoc", *args], capture_output=True, text=True, env=env,
                          cwd=str(ROOT), timeout=60, **kw)


class Server:
    """`neoc server ARGS --http 127.0.0.1:P1 --mqtt 127.0.0.1:P2` until "ready";
    picks other free ports when one was taken before the server bound it."""

    def __init__(self, data_dir, *args):
        self.data_dir, self.args = pathlib.Path(data_dir), args
        self.proc = None
        self.lines = []

    def start(self, timeout=30):
        for attempt in range(3):
            self.http_port, self.mqtt_port = free_port(), free_port()
            self.lines = []
            env = dict(os.environ, PYTHONPATH=str(ROOT))
            env.pop("NEOC_ADMIN_TOKEN", None)
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "neoc", "server", "--data-dir", str(self.data_dir),
                 "--http", "127.0.0.1:%d" % self.http_port, "--mqtt", "127.0.0.1:%d" % self.mqtt_port,
                 *self.args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                text=True, env=env, cwd=str(ROOT))
            threading.Thread(target=lambda p=self.proc, out=self.lines: out.extend(p.stdout), daemon=True).start()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None \
                    and not any("neoc server: ready" in x for x in self.lines):
                time.sleep(0.05)
            if any("neoc server: ready" in x for x in self.lines):
                return self
            self.stop()
            if attempt == 2 or "address already in use" not in self.output().lower():
                raise AssertionError("neoc server did not come up:\n" + self.output())

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.http_port

    def output(self):
        return "".join(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("neoc server ignored SIGTERM:\n" + self.output())
        return self.proc.returncode


def _register(server, mac, *options):
    p = neoc("device", "add", mac, "--location", "u4/302", "--server", server.url,
             "--data-dir", str(server.data_dir), *options)
    assert p.returncode == 0, p.stdout + p.stderr


def test_no_advertise_broker_from_the_shell(tmp_path):
    server = Server(tmp_path / "d", "--no-advertise-broker").start()
    try:
        _register(server, MAC)
        _register(server, "02:ad:0e:00:00:09", "--mqtt-server", "campus.example", "--mqtt-port", "8883")
        assert set(credentials(server.url, MAC)) == {"login", "password"}
        assert set(credentials(server.url, MAC)) == {"login"}
        own = credentials(server.url, "02:ad:0e:00:00:09")
        assert (own["server"], own["port"]) == ("campus.example", 8883)
    finally:
        assert server.stop() == 0, server.output()
    assert "neoc server: no broker advertised" in server.output()


def test_advertise_broker_from_the_shell(tmp_path):
    server = Server(tmp_path / "d", "--advertise-broker", "neoc-pi.lan").start()
    try:
        _register(server, MAC)
        answer = credentials(server.url, MAC)
        # PORT left out: the --mqtt listener's port.
        assert (answer["server"], answer["port"]) == ("neoc-pi.lan", server.mqtt_port)
    finally:
        server.stop()
    assert "devices are sent the broker neoc-pi.lan:%d\n" % server.mqtt_port in server.output()


@pytest.mark.parametrize("args, says", [
    (["--advertise-broker", "pi.lan:1884", "--no-advertise-broker"], "exclude each other"),
    (["--advertise-broker", "0.0.0.0:1883"], "can dial"),
    (["--advertise-broker", "pi.lan:x"], "HOST:PORT"),
    (["--advertise-broker", "pi.lan:70000"], "1-65535"),
    (["--advertise-broker", "[fd00::2"], "HOST:PORT"),
])
def test_bad_advertise_options_are_clear_errors(tmp_path, args, says):
    p = neoc("server", "--data-dir", str(tmp_path / "d"), "--http", "127.0.0.1:1", *args)
    assert p.returncode == 2 and says in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert not (tmp_path / "d").exists()  # refused before anything started


def test_help_says_what_a_wildcard_listener_advertises():
    text = " ".join(neoc("server", "--help").stdout.split())
    assert "--advertise-broker HOST[:PORT]" in text and "--no-advertise-broker" in text
    assert "0.0.0.0 or ::, this machine's hostname with the --mqtt port" in text


# -- end to end: a board pointed at the stub with no broker of its own -----------------
def _proc_stat(pid):
    """(ppid, start time, state) of a live process from /proc, or None."""
    try:
        text = pathlib.Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return int(fields[1]), int(fields[19]), fields[0]


def _descendants(pid):
    """{pid: (start time, command line)} of every live process under pid (from /proc:
    psutil is not a declared dependency)."""
    children = {}
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _proc_stat(int(entry.name))
            if st:
                children.setdefault(st[0], []).append((int(entry.name), st[1]))
    out, todo = {}, [pid]
    while todo:
        for child, started in children.get(todo.pop(), []):
            try:
                cmd = (pathlib.Path("/proc/%d/cmdline" % child).read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
            out[child] = (started, cmd)
            todo.append(child)
    return out


def _still_running(procs):
    """Those of _descendants()'s processes still alive (same pid and start time, not a zombie)."""
    left = {}
    for pid, (started, cmd) in procs.items():
        st = _proc_stat(pid)
        if st and st[1] == started and st[2] != "Z":
            left[pid] = cmd
    return left


@pytest.mark.slow
def test_a_board_without_broker_setting_publishes_to_the_stubs_broker(tmp_path):
    from toolchain import micropython as upy
    if upy.unavailable_reason():
        from harness import need
        need(upy.unavailable_reason())
    server = Server(tmp_path / "d").start()
    board = None
    lines = []
    try:
        _register(server, MAC, "--module", "temperature:30")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        board = subprocess.Popen(
            [sys.executable, "-m", "neoc", "board", "run", "--mac", MAC, "--server", server.url,
             "--chip", "mcp9808@0x18:temperature=21.5"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            cwd=str(tmp_path))
        threading.Thread(target=lambda: lines.extend(board.stdout), daemon=True).start()
        admin = AdminClient(server.url, (server.data_dir / "admin-token").read_text().strip())
        deadline = time.monotonic() + 120  # a bound, not a speed goal: boot times vary on a loaded machine
        rows = []
        while not rows and time.monotonic() < deadline and board.poll() is None:
            time.sleep(0.5)
            rows = admin.readings(topic="u4/302/temperature")
        out = "".join(lines)
        assert rows, "no reading stored; board exit %r:\n%s\n--- server\n%s" % (board.poll(), out,
                                                                                 server.output())
        assert rows[0]["value"] == 21.5 and rows[0]["unitID"] == "auto_0001"
        assert re.search(r"mqtt: connected to 127\.0\.0\.1:%d as senso_02ad0e000001" % server.mqtt_port, out), out
        assert "univ-tlse3.fr" not in out
        vm = [cmd for _, cmd in _descendants(board.pid).values() if "micropython" in cmd.lower()]
        assert vm, "no MicroPython VM under the board runner: %s" % _descendants(board.pid)
        admin.http.close()
    finally:
        if board is not None:
            spawned = _descendants(board.pid)
            board.send_signal(signal.SIGTERM)
            try:
                board.wait(30)
            except subprocess.TimeoutExpired:
                board.kill()
                board.wait()
                raise AssertionError("the board runner ignored SIGTERM:\n" + "".join(lines))
            left = _still_running(spawned)
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            assert not left, "processes left behind the board runner: %s" % left
        server_spawned = _descendants(server.proc.pid)
        assert server.stop() == 0, server.output()
    assert not _still_running(server_spawned), server_spawned
    assert board.returncode == 0, "".join(lines)
