"""The firmware's small HTTP client (neosensor/http.py) under MicroPython, as
.mpy, against a CPython server: http and https (with and without a CA file)."""
import http.server
import json
import shutil
import ssl
import threading

import pytest

from harness import ROOT
from toolchain.mpy import compile_file

pytestmark = pytest.mark.micropython

REQUEST = """
from neosensor import http
st, body = http.request("GET", "%s/device/config?x=1", {"Authorization": "Basic dGVzdDp0ZXN0"})
print(st, body.decode())
st, body = http.request("POST", "%s/device/logger", {"Content-Type": "text/plain"}, b"hello")
print(st, body.decode())
"""


class Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._answer(200, {"path": self.path, "auth": self.headers.get("Authorization")})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        self._answer(403, {"got": self.rfile.read(n).decode()})

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tls_files):
    servers = []

    def start(tls):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls_files["cert"]), str(tls_files["key"]))
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return "%s://127.0.0.1:%d" % ("https" if tls else "http", srv.server_address[1])

    yield start
    for s in servers:
        s.shutdown()


def _lib(tmp_path):
    lib = tmp_path / "lib"
    for name in ("http", "tls"):
        compile_file(ROOT / "firmware" / "neosensor" / ("%s.py" % name), lib / "neosensor" / ("%s.mpy" % name))
    (lib / "neosensor" / "__init__.py").write_text("")
    return lib


@pytest.mark.parametrize("tls,ca", [(False, False), (True, False), (True, True)])
def test_request_and_answer(micropython, server, tls_files, tmp_path, tls, ca):
    url = server(tls)
    if ca:  # written by the flashing tool: verification on
        shutil.copyfile(tls_files["ca"], micropython.flash_dir / "ca.pem")
    out = micropython.run(code=REQUEST % (url, url), path=[_lib(tmp_path)], portable=False, heap="64k").stdout
    first, second = out.strip().splitlines()
    st, body = first.split(" ", 1)
    assert st == "200"
    assert json.loads(body) == {"path": "/device/config?x=1", "auth": "Basic dGVzdDp0ZXN0"}
    assert second == '403 {"got": "hello"}'


def test_https_with_a_ca_that_did_not_sign_the_server_fails(micropython, server, tmp_path):
    from harness import make_tls_files
    other = make_tls_files(tmp_path, "other")
    url = server(True)
    shutil.copyfile(other["ca"], micropython.flash_dir / "ca.pem")
    res = micropython.run(code=REQUEST % (url, url), path=[_lib(tmp_path)], portable=False, heap="64k",
                          check=False)
    assert res.returncode != 0
    assert "OSError: TLS: " in res.stdout and "not correctly signed" in res.stdout
