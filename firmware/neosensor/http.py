# A small HTTP/1.0 client on `socket` (and `ssl` for https), for the
# sensOCampus handshake: request(method, url, headers, body) -> (status, body).
# Network and TLS failures raise OSError; the body is capped (a config is
# small). https verifies the server when ca.pem is on the flash.
import socket

MAX_BODY = 8192
TIMEOUT = 10


def request(method, url, headers=None, body=None):
    proto, _, rest = url.partition("://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    tls = proto == "https"
    port = int(port) if port else (443 if tls else 80)
    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
    s = socket.socket()
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
        length = MAX_BODY
        while True:
            line = s.readline()
            if not line or line == b"\r\n":
                break
            if line[:15].lower() == b"content-length:":
                try:
                    length = min(int(line[15:]), MAX_BODY)
                except ValueError:
                    raise OSError("bad Content-Length")
        data = b""
        while len(data) < length:
            chunk = s.read(length - len(data))
            if not chunk:
                break
            data += chunk
        return status, data
    finally:
        s.close()

