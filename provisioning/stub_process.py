"""Run `neoc server` as a child process, for tests, benchmarks and `neoc demo`.

    from provisioning.stub_process import StubServer

    with StubServer(tmp_path / "stub", broker="embedded") as stub:   # or "mosquitto"
        stub.admin.add_device("aa:bb:cc:dd:ee:ff", location="u4/302",
                              modules=[{"module": "temperature", "frequency": 60}])
        # a device: GET stub.url + "/device/credentials?mac=aa:bb:cc:dd:ee:ff",
        # then MQTT on (stub.mqtt_host, stub.mqtt_port) with the login/password
        stub.admin.readings(topic="u4/302")          # -> [{"topic": ..., "value": ...}, ...]
        user, password = stub.observer_credentials()  # reads +/+/+

With broker="external" the stub only writes Mosquitto files into
DATA_DIR/mosquitto/ and connects to whatever listens on mqtt_port.

`start()` picks free loopback ports (unless given), launches
`python -m neoc server ...`, waits until both HTTP and MQTT answer and raises
StubError with the server's output if it does not come up. `output()` is
the server's log so far (print it when a test fails).
"""
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

import requests

from provisioning.acl import OBSERVER_USER
from provisioning.admin_client import AdminClient
from provisioning.mosquitto import free_port

ROOT = pathlib.Path(__file__).resolve().parent.parent


class StubError(RuntimeError):
    pass


class StubServer:
    def __init__(self, data_dir=None, broker="embedded", http_port=None, mqtt_port=None, token=None,
                 host="127.0.0.1", timeout=20.0, public_page=True, extra_args=(), own_session=False, tls=None):
        """public_page: tests and the demo run on loopback and open the live page
        without the viewer token (`--public-page`); False to test the token.
        extra_args: further `neoc server` options (e.g. --claim-window 2s).
        own_session: the server in a session of its own, out of reach of the
        terminal's Ctrl-C, so that the caller stops it when it is done with it.
        tls: {"cert", "key", "ca"} PEM paths (tests/harness.py make_tls_files):
        the stub serves HTTPS, and url is https (verified against "ca")."""
        if broker not in ("embedded", "mosquitto", "external"):
            raise ValueError("broker must be embedded, mosquitto or external")
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="neoc-stub-")
            data_dir = self._tmp.name
        self.data_dir = pathlib.Path(data_dir)
        self.broker = broker
        self.host = host
        self.http_port = http_port
        self.mqtt_port = mqtt_port
        self.token = token
        self.timeout = timeout
        self.public_page = public_page
        self.extra_args = list(extra_args)
        self.own_session = own_session
        self.tls = tls
        self.proc = None
        self._lines = []
        self._reader = None
        self._admin = None

    # -- addresses -----------------------------------------------------------
    @property
    def url(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self.http_port)

    @property
    def mqtt_host(self):
        return self.host

    @property
    def admin(self):
        if self._admin is None:
            self._admin = AdminClient(self.url, self.token)
        return self._admin

    def viewer_token(self):
        return (self.data_dir / "viewer-token").read_text().strip()

    def observer_credentials(self):
        """(user, password) of the stub's observer account: reads +/+/+ and may send
        orders on +/+/+/command, as the collector does, under a login of its own."""
        return OBSERVER_USER, (self.data_dir / "observer-password").read_text().strip()

    def collector_credentials(self):
        """The observer account (observer_credentials()), for callers written when
        tests watched with the collector's own login: that login's client id is
        the collector's alone now, and a second client of it would push it out."""
        return self.observer_credentials()

    # -- process -------------------------------------------------------------
    def start(self):
        # Ports we picked can be taken before the server binds them (another
        # test's client gets the same one as its ephemeral port): pick again.
        chosen = not self.http_port, not self.mqtt_port
        for attempt in range(3):
            try:
                return self._start()
            except StubError as e:
                if not any(chosen) or attempt == 2 or "address already in use" not in str(e):
                    raise
                if chosen[0]:
                    self.http_port = None
                if chosen[1]:
                    self.mqtt_port = None

    def _start(self):
        self._lines = []
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.http_port = self.http_port or free_port(self.host)
        self.mqtt_port = self.mqtt_port or free_port(self.host)
        cmd = [sys.executable, "-m", "neoc", "server", "--data-dir", str(self.data_dir),
               "--http", "%s:%d" % (self.host, self.http_port), "--mqtt", "%s:%d" % (self.host, self.mqtt_port),
               "--broker", self.broker] + (["--public-page"] if self.public_page else []) + [
                   # Benches storm the stub with thousands of devices from one address.
                   "--max-connections-per-address", "4096"] + self.extra_args
        if os.environ.get("NEOC_STUB_HTTP_PROCESSES") and "--http-processes" not in cmd:
            # The whole suite against N HTTP processes: NEOC_STUB_HTTP_PROCESSES=2 make test
            cmd += ["--http-processes", os.environ["NEOC_STUB_HTTP_PROCESSES"]]
        if self.tls:
            # Absolute: the server runs in the data dir.
            cmd += ["--tls-cert", str(pathlib.Path(self.tls["cert"]).resolve()),
                    "--tls-key", str(pathlib.Path(self.tls["key"]).resolve())]
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env.pop("NEOC_ADMIN_TOKEN", None)
        if self.token:
            env["NEOC_ADMIN_TOKEN"] = self.token  # not on the command line, where `ps` shows it
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=env, cwd=str(self.data_dir), start_new_session=self.own_session)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        started = time.monotonic()
        deadline = started + self.timeout
        if not self._wait_ready(deadline):
            code = self.proc.poll()
            how = ("it exited with code %d after %.1f s" % (code, time.monotonic() - started) if code is not None
                   else "not ready after %.1f s, stopped" % (time.monotonic() - started))
            self.stop()
            raise StubError("neoc server did not come up (http %d, mqtt %d; %s):\n%s"
                            % (self.http_port, self.mqtt_port, how, self.output()))
        if not self.token:
            self.token = (self.data_dir / "admin-token").read_text().strip()
        return self

    def _read(self):
        for line in self.proc.stdout:
            self._lines.append(line)

    def _wait_ready(self, deadline):
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if any("neoc server: ready" in line for line in self._lines):
                break
            time.sleep(0.05)
        else:
            return False
        # "ready" is printed once the broker listens; only HTTP is probed (a bare
        # TCP probe of the broker would show up as an error in its log).
        left = max(0.1, deadline - time.monotonic())
        try:
            requests.get(self.url + "/device/credentials", timeout=left,
                         verify=str(self.tls["ca"]) if self.tls else True)
        except requests.RequestException:
            return False
        return True

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self._reader is not None:
                self._reader.join(2)
            self.proc = None
        if self._admin is not None:
            self._admin.http.close()
            self._admin = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def output(self):
        return "".join(self._lines)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
