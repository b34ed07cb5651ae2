"""Slow and greedy clients cost nothing (issue 19, parts 5 and 6): a request header
dripped a byte at a time is cut off, a body that never comes is a 408, one address
holds a bounded number of connections, live pages are capped and a page that does
not read is dropped, while good clients are served all along. 40 slow connections
instead of the issue's 2,000: the timeout is the same for each."""
import json
import socket
import sys
import threading
import time

import pytest
import requests

from provisioning.stub_process import StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from support.stub_helpers import handshake, mqtt_client, wait_until  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stub(tmp_path_factory):
    pytest.importorskip("amqtt")
    s = StubServer(tmp_path_factory.mktemp("slow") / "data", broker="embedded",
                   extra_args=["--max-connections-per-address", "60"])
    s.start()
    yield s
    s.stop()
    print(s.output())


def _open(stub, source="127.0.0.1"):
    s = socket.create_connection((stub.host, stub.http_port), timeout=5, source_address=(source, 0))
    return s


def _closed_by_server(sock, timeout):
    """True when the server closes the socket within `timeout` s."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


def test_a_dripped_header_is_cut_off_and_good_clients_are_served(stub):
    slow = [_open(stub) for _ in range(40)]
    for s in slow:
        s.sendall(b"GET /device/credentials?mac=02:00:00:00:00:01 HTTP/1.1\r\nHost: x\r\n")
    stop = threading.Event()

    def drip():
        while not stop.is_set():
            for s in slow:
                try:
                    s.sendall(b"X")
                except OSError:
                    pass
            stop.wait(2)
    t = threading.Thread(target=drip, daemon=True)
    t.start()
    try:
        codes = [requests.get(stub.url + "/device/credentials", params={"mac": "02:00:00:00:00:09"},
                              timeout=5).status_code for _ in range(5)]
        assert codes == [403] * 5  # an unknown MAC, answered while the slow ones hang on
        start = time.monotonic()
        closed = [_closed_by_server(s, max(0.1, 20 - (time.monotonic() - start))) for s in slow]
    finally:
        stop.set()
        t.join(5)
        for s in slow:
            s.close()
    assert all(closed), "%d of 40 slow connections still open after 20 s" % closed.count(False)


def test_a_body_that_never_comes_is_a_408(stub):
    s = _open(stub)
    s.sendall(b"POST /api/devices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + stub.token.encode() +
              b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"mac\": ")
    s.settimeout(20)
    answer = s.recv(4096)
    s.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_one_address_holds_a_bounded_number_of_connections(stub):
    held = [_open(stub) for _ in range(60)]
    time.sleep(0.3)
    extra = [_open(stub) for _ in range(10)]
    try:
        assert all(_closed_by_server(s, 2) for s in extra)
        # Another address is served meanwhile; this one again once it lets go.
        other = _open(stub, "127.0.0.2")
        other.sendall(b"GET /device/credentials?mac=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        other.settimeout(5)
        assert other.recv(4096).startswith(b"HTTP/1.1 403")
        other.close()
    finally:
        for s in held + extra:
            s.close()
    assert wait_until(lambda: requests.get(stub.url + "/device/credentials", timeout=5).status_code == 403)
    assert stub.admin.collector()["http"]["connections_refused"] >= 10


def test_live_pages_are_capped_and_a_page_that_does_not_read_is_dropped(stub):
    mac = "02:5e:00:00:00:01"
    stub.admin.add_device(mac, location="u4/sse", modules=["temperature"])
    pages = []
    for _ in range(50):
        s = _open(stub)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /live/events HTTP/1.1\r\nHost: x\r\n\r\n")
        pages.append(s)
    assert wait_until(lambda: stub.admin.collector()["live_pages"] == 50, timeout=10)
    over = requests.get(stub.url + "/live/events", timeout=5)
    assert over.status_code == 503 and "too many live pages" in over.text
    for s in pages[5:]:
        s.close()
    # Readings are broadcast to every page; the five left open never read.
    login, password, _ = handshake(stub, mac)
    dev = mqtt_client(stub, login, password)
    for seq in range(3000):
        dev.client.publish("u4/sse/temperature", json.dumps({
            "value": seq, "value_units": "celsius", "subID": "24", "unitID": "auto_0001", "seq": seq,
            "pad": "p" * 400}), qos=0)
        if seq % 500 == 499:
            time.sleep(0.2)
    dropped = wait_until(lambda: stub.admin.collector()["live_pages"] == 0, timeout=30)
    stats = stub.admin.collector()
    dev.close()
    for s in pages[:5]:
        s.close()
    assert dropped, (stats["live_pages"], stats["live_pages_dropped"])
    assert stats["live_pages_dropped"] >= 5
    assert requests.get(stub.url + "/live/state", timeout=5).status_code == 200
