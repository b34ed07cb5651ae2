# A small HTTP/1.0 client on `socket` (and `ssl` for https), for the
# sensOCampus handshake and the update check: request(method, url, headers,
# body) -> (status, body), the body capped (a config is small);
# download(url, write, buf) streams a body of any size through buf.
# Network and TLS failures raise OSError. https verifies the server when
# ca.pem is on the flash.
import socket

MAX_BODY = 8192
TIMEOUT = 10


def _open(method, url, headers, body):
    # (socket, status, Content-Length or -1) once the headers are read.
    proto, _, rest = url.partition("://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    tls = proto == "https"
    port = int(port) if port else (443 if tls else 80)
    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
    s = socket.socket()
    ok = False
    try:
        s.settimeout(TIMEOUT)
        s.connect(addr)
        if tls:
            from neosensor.tls import wrap
            s = wrap(s, host)
        head = "%s /%s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n" % (method, path, host)
        for k in headers or ():
            head += "%s: %s\r\n" % (k, headers[k])
        if body:
            head += "Content-Length: %d\r\n" % len(body)
        s.write((head + "\r\n").encode())
        if body:
            s.write(body)
        line = s.readline()
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise OSError("bad HTTP status line")
        try:
            status = int(parts[1])
        except ValueError:
            raise OSError("bad HTTP status line")
        length = -1
        while True:
            line = s.readline()
            if not line or line == b"\r\n":
                break
            if line[:15].lower() == b"content-length:":
                try:
                    length = int(line[15:])
                except ValueError:
                    raise OSError("bad Content-Length")
        ok = True
        return s, status, length
    finally:
        if not ok:
            s.close()


def request(method, url, headers=None, body=None):
    s, status, length = _open(method, url, headers, body)
    try:
        length = MAX_BODY if length < 0 else min(length, MAX_BODY)
        data = b""
        while len(data) < length:
            chunk = s.read(length - len(data))
            if not chunk:
                break
            data += chunk
        return status, data
    finally:
        s.close()


def download(url, write, buf):
    """GET url, its body handed to write(memoryview) piece by piece through
    buf; returns (status, bytes received). A non-200 answer is not read."""
    s, status, length = _open("GET", url, None, None)
    got = 0
    try:
        if status == 200:
            mv = memoryview(buf)
            while length < 0 or got < length:
                n = s.readinto(buf)
                if not n:
                    break
                write(mv[:n])
                got += n
        return status, got
    finally:
        s.close()

