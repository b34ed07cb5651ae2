"""Over-the-air updates on the virtual board (ROMFS deploy, the default
heap) against `neoc server` with Mosquitto: releases published with the
real `neoc release publish`, fetched by the firmware's set-up phase
(firmware/neosensor/ota.py) on the `upgrade` order.

One board goes through the cases in order: a release that is not newer, one
that does not fit the flash, a corrupt file, a download cut in the middle
(then the same release again: the good update, timed), and a firmware that
raises at boot (rolled back after 3 boots). The board's images URL goes
through a proxy that can cut a download, as a stub closing the connection.
"""
import hashlib
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time

import pytest

from harness import chained_step, needs_step, wait_until
from provisioning.stub_process import StubServer
from toolchain import micropython as upy
from toolchain.firmware import revision
from toolchain.mpy import compile_file
from virtual_board import DEFAULT_HEAP, VirtualBoard

pytestmark = [pytest.mark.slow, pytest.mark.micropython, pytest.mark.mosquitto]

MAC = "aa:bb:cc:00:07:a0"
ROOM = "u2/ota"
R0 = revision()
R1, R2, R3 = R0 + 1, R0 + 2, R0 + 3
NEOC = [sys.executable, "-m", "neoc"]


class CuttingProxy:
    """A TCP forwarder to the stub; armed, it closes the next answer to a
    path ending in `suffix` after `after` bytes. With `tls` (a server
    SSLContext) it is an HTTPS front for the stub's plain HTTP."""

    def __init__(self, target, tls=None):
        self.target, self.tls = target, tls
        self.requests = []
        self.cut = None   # (suffix, after)
        self.cuts = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        if self.tls is not None:
            try:
                conn.settimeout(30)
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (OSError, ValueError):   # a client that refused our certificate
                conn.close()
                return
        with conn, socket.create_connection(self.target) as up:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            path = head.split(b" ", 2)[1].decode()
            self.requests.append(path)
            cut, self_cut = self.cut, None
            if cut and path.endswith(cut[0]):
                self_cut, self.cut = cut[1], None
            up.sendall(head)
            sent = 0
            while True:
                data = up.recv(4096)
                if not data:
                    return
                if self_cut is not None and sent + len(data) > self_cut:
                    conn.sendall(data[:max(0, self_cut - sent)])
                    self.cuts += 1
                    return   # the connection closed mid-body
                conn.sendall(data)
                sent += len(data)

    def close(self):
        self.server.close()


class Campus:
    def __init__(self, stub, board, data_dir, proxy, tmp):
        self.stub, self.board, self.data_dir, self.proxy, self.tmp = stub, board, data_dir, proxy, tmp
        self.passed = set()

    def neoc(self, *args):
        proc = subprocess.run(NEOC + list(args) + ["--server", self.stub.url, "--token", self.stub.token],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout + proc.stderr

    def publish(self, rev, folder=None):
        if folder:
            return self.neoc("release", "publish", str(folder), "--board", "esp8266")
        return self.neoc("release", "publish", "--from-tree", "--board", "esp8266", "--arch", "none",
                         "--revision", str(rev))

    def upgrade(self):
        """The `upgrade` order; returns the console index it was sent at."""
        start = len(self.board.lines)
        self.stub.admin.order(MAC, "upgrade")
        self.board.wait_for(r"^--- boot \d+ \(reset\)", 30, start)
        return start

    def flash_revision(self):
        return json.loads((self.board.flash / "firmware.json").read_text())["revision"]

    def status(self, since):
        """The board's newest `running` device status after console index since."""
        for line in reversed(self.board.lines[since:]):
            if line.startswith("pub %s/device " % ROOM) and '"status": "running"' in line:
                return json.loads(line.split(" ", 2)[2].rsplit(" (", 1)[0])
        return None

    def images(self):
        return self.data_dir / "images" / "esp8266" / "neOSensor"


@pytest.fixture(scope="module")
def campus(tmp_path_factory):
    reason = upy.unavailable_reason()
    if reason:
        from harness import need
        need(reason)
    data = tmp_path_factory.mktemp("stub-ota")
    stub = StubServer(data, broker="mosquitto")
    stub.start()
    proxy = CuttingProxy((stub.host, stub.http_port))
    try:
        stub.admin.add_device(MAC, location=ROOM, modules=[{"module": "digital", "params": [
            {"param": "input", "value": 13}, {"param": "type", "value": "presence"}]}])
        board = VirtualBoard(MAC, server=stub.url, wifi=("campus", "secret"), heap=DEFAULT_HEAP,
                             broker=(stub.mqtt_host, stub.mqtt_port), echo=False,
                             flash_dir=tmp_path_factory.mktemp("flash-ota"),
                             config_extra={"images": "http://127.0.0.1:%d/images" % proxy.port})
        board.start()
        try:
            board.wait_for(r"^mqtt: connected", 90)
            yield Campus(stub, board, data, proxy, tmp_path_factory.mktemp("releases"))
        finally:
            board.stop()
    finally:
        proxy.close()
        stub.stop()


@pytest.fixture
def run(request, campus):
    def console():
        n = len(campus.board.lines)
        return lambda: ("--- board console during the test\n" + "\n".join(campus.board.lines[n:][-150:]) +
                        "\n--- stub output\n" + campus.stub.output()[-3000:])
    yield from chained_step(request, campus, console)


def _need(run, name):
    needs_step(run, name)


def test_a_release_that_is_not_newer_changes_nothing(run):
    out = run.publish(R0)
    assert "release %d published for esp8266" % R0 in out
    start = run.upgrade()
    run.board.wait_for(r"^ota: revision %d is not newer than this firmware's \(%d\)" % (R0, R0), 60, start)
    run.board.wait_for(r"^mqtt: connected", 60, start)
    assert run.flash_revision() == R0


def test_a_release_too_big_for_the_flash_is_refused_before_download(run):
    _need(run, "test_a_release_that_is_not_newer_changes_nothing")
    doc = json.loads((run.images() / "default.json").read_text())
    huge = dict(doc, revision=R1, files=doc["files"] + [["/huge.bin", 1 << 42, "0" * 64]])
    (run.images() / "default.json").write_text(json.dumps(huge))
    start = run.upgrade()
    run.board.wait_for(r"^ota: revision %d needs \d+ B of flash, \d+ B are free: not updated" % R1, 60, start)
    run.board.wait_for(r"^mqtt: connected", 60, start)
    assert run.flash_revision() == R0
    assert not (run.board.flash / ".stage").exists()


def test_a_corrupt_file_switches_nothing(run):
    _need(run, "test_a_release_too_big_for_the_flash_is_refused_before_download")
    run.publish(R1)
    image = run.images() / str(R1) / "romfs.img"
    good = image.read_bytes()
    image.write_bytes(good[:1000] + bytes([good[1000] ^ 0xFF]) + good[1001:])
    try:
        start = run.upgrade()
        run.board.wait_for(r"^ota: /romfs.img: sha256 differs from the release's: nothing switched in", 60, start)
        run.board.wait_for(r"^mqtt: connected", 60, start)
    finally:
        image.write_bytes(good)
    assert run.flash_revision() == R0
    assert not [p for p in (run.board.flash / ".stage").rglob("*") if p.is_file()]


def test_a_cut_download_switches_nothing_and_is_tried_again(run):
    _need(run, "test_a_corrupt_file_switches_nothing")
    run.proxy.cut = ("/romfs.img", 20000)
    start = run.upgrade()
    run.board.wait_for(r"^ota: /romfs.img: cut after \d+ of \d+ B: nothing switched in", 60, start)
    run.board.wait_for(r"^mqtt: connected", 60, start)
    assert run.proxy.cuts == 1
    assert run.flash_revision() == R0
    assert not [p for p in (run.board.flash / ".stage").rglob("*") if p.is_file()]


def test_a_good_update_is_switched_in_and_passes_its_trial(run):
    _need(run, "test_a_cut_download_switches_nothing_and_is_tried_again")
    before = hashlib.sha256((run.board.flash / "boot.py").read_bytes()).hexdigest()
    t0 = time.monotonic()
    start = run.upgrade()
    run.board.wait_for(r"^ota: revision %d: 2 of 4 files to fetch" % R1, 60, start)  # romfs.img, firmware.json
    run.board.wait_for(r"^ota: revision %d in place \(was %d\)" % (R1, R0), 60, start)
    run.board.wait_for(r"^ota: revision %d on trial, boot 1 of 3" % R1, 30, start)
    run.board.wait_for(r"^mqtt: connected", 60, start)
    print("update of one changed image (order to first MQTT link): %.1f s" % (time.monotonic() - t0))
    assert run.flash_revision() == R1
    assert hashlib.sha256((run.board.flash / "boot.py").read_bytes()).hexdigest() == before
    assert (run.board.flash / ".prev" / "romfs.img").exists()   # kept while on trial
    status = run.board.wait_for(r'^pub %s/device .*"status": "running"' % ROOM, 30, start) and run.status(start)
    assert status["firmware"] == R1 and status["update_failed"] is None, status
    assert not (run.board.flash / "ota.json").exists()   # the trial passed at the first MQTT link
    # The next set-up frees the previous firmware.
    start = run.upgrade()
    run.board.wait_for(r"^ota: revision %d passed its trial: the previous firmware removed" % R1, 60, start)
    run.board.wait_for(r"^mqtt: connected", 60, start)
    assert not (run.board.flash / ".prev").exists()


def test_a_firmware_that_raises_at_boot_is_rolled_back_after_3_boots(run):
    _need(run, "test_a_good_update_is_switched_in_and_passes_its_trial")
    # A .mpy release (from a ROMFS one: the image goes, files come) whose set-up raises.
    folder = run.tmp / "broken"
    subprocess.run(NEOC + ["release", "build", str(folder), "--board", "esp8266", "--deploy", "mpy", "--arch",
                           "none", "--revision", str(R2)], check=True, stdin=subprocess.DEVNULL,
                   capture_output=True)
    src = run.tmp / "setup.py"
    src.write_text("def run():\n    raise RuntimeError('broken release')\n")
    compile_file(src, folder / "neosensor" / "setup.mpy", source_name="neosensor/setup.py")
    run.publish(R2, folder)
    image = hashlib.sha256((run.board.flash / "romfs.img").read_bytes()).hexdigest()
    start = run.upgrade()
    run.board.wait_for(r"^ota: revision %d in place \(was %d\)" % (R2, R1), 60, start)
    for n in (1, 2, 3):
        run.board.wait_for(r"^ota: revision %d on trial, boot %d of 3" % (R2, n), 60, start)
    run.board.wait_for(r"^ota: revision %d did not reach a working MQTT link in 3 boots: back to revision %d"
                       % (R2, R1), 60, start)
    assert sum("RuntimeError: broken release" in x for x in run.board.lines[start:]) == 3
    run.board.wait_for(r"^ota: revision %d was rolled back before: not tried again" % R2, 60, start)
    run.board.wait_for(r"^mqtt: connected", 60, start)
    assert run.flash_revision() == R1
    assert hashlib.sha256((run.board.flash / "romfs.img").read_bytes()).hexdigest() == image
    assert not (run.board.flash / "neosensor").exists() and not (run.board.flash / "lib").exists()
    assert not (run.board.flash / ".prev").exists() and not (run.board.flash / "ota.json").exists()
    run.board.wait_for(r'^pub %s/device .*"status": "running"' % ROOM, 30, start)
    status = run.status(start)
    assert status["firmware"] == R1 and status["update_failed"] == R2, status
    # The campus engineer sees it in `neoc fleet status`, from the status the stub kept.
    row = wait_until(lambda: [r for r in json.loads(run.neoc("fleet", "status", "--json"))
                              if r["mac"] == MAC.upper() and r["update_failed"] == R2], 15,
                     "the failed revision in `neoc fleet status`")
    assert row[0]["firmware"] == R1, row
    table = run.neoc("fleet", "status")
    assert any(line.startswith(MAC.upper()) and line.rstrip().endswith(str(R2)) for line in table.splitlines()), table


def test_an_update_over_https_verifies_the_server_with_the_flashed_ca(run):
    """config.json's images URL on https (an HTTPS front for the stub, which
    serves plain HTTP), ca.pem on the flash as `neoc flash --ca` puts it: a CA
    that did not sign the server is an unreachable server (nothing fetched),
    the right one an update. It also clears the failed revision reported."""
    import ssl
    from harness import make_tls_files
    _need(run, "test_a_firmware_that_raises_at_boot_is_rolled_back_after_3_boots")
    files, other = make_tls_files(run.tmp, "ota"), make_tls_files(run.tmp, "other")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(files["cert"]), str(files["key"]))
    front = CuttingProxy((run.stub.host, run.stub.http_port), tls=ctx)
    config, ca = run.board.flash / "config.json", run.board.flash / "ca.pem"
    before = config.read_text()

    def put(path, data):   # replaced whole, as the board's reads must never see half a file
        (path.parent / (path.name + ".new")).write_bytes(data)
        os.replace(path.parent / (path.name + ".new"), path)
    try:
        cfg = dict(json.loads(before), images="https://127.0.0.1:%d/images" % front.port)
        put(config, json.dumps(cfg).encode())
        put(ca, other["ca"].read_bytes())
        run.publish(R3)
        start = run.upgrade()
        run.board.wait_for(r"^ota: https://127\.0\.0\.1:%d/images/esp8266/neOSensor/default\.json unreachable "
                           r"\(OSError\('TLS: " % front.port, 60, start)
        run.board.wait_for(r"^mqtt: connected", 60, start)
        assert run.flash_revision() == R1 and not front.requests

        put(ca, files["ca"].read_bytes())
        start = run.upgrade()
        run.board.wait_for(r"^ota: revision %d in place \(was %d\)" % (R3, R1), 60, start)
        run.board.wait_for(r"^mqtt: connected", 60, start)
        assert run.flash_revision() == R3
        assert "/images/esp8266/neOSensor/default.json" in front.requests
        assert "/images/esp8266/neOSensor/%d/romfs.img" % R3 in front.requests, front.requests
        run.board.wait_for(r'^pub %s/device .*"status": "running"' % ROOM, 30, start)
        status = run.status(start)
        assert status["firmware"] == R3 and status["update_failed"] is None, status
    finally:
        put(config, before.encode())
        ca.unlink(missing_ok=True)
        front.close()
