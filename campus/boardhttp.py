"""A board's HTTP exchange on asyncio, for light devices (campus/light.py).

The same bytes as the firmware's transport (firmware/neosensor/http.py): one
connection per request, `METHOD /path HTTP/1.0`, `Host` (without the port,
as the board writes it), `Connection: close`, the caller's headers,
`Content-Length` when there is a body; the answer's status line and
`Content-Length` are read, the body capped at MAX_BODY, and the connection
closed. Failures raise OSError as the board's do (a refused connection, a
peer that hangs up mid-answer, a bad status line) or asyncio.TimeoutError.

Why not aiohttp's client: hundreds of light devices share one core with the
stub they measure, and aiohttp's client costs ~0.4 ms of CPU per connection
(its connector, happy eyeballs, request and response objects), twice a
handshake; this costs a fraction of that (bench/fleet.py's storm prints both
sides' CPU), and speaks exactly what a board speaks.
"""
import asyncio
import ssl as _ssl

MAX_BODY = 8192         # bytes of an answer's body kept (firmware/neosensor/http.py)
TIMEOUT = 60.0          # s for one exchange, connection to last byte


def request_bytes(method, host, path, headers=None, body=None):
    head = "%s /%s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n" % (method, path, host)
    for k in headers or ():
        head += "%s: %s\r\n" % (k, headers[k])
    if body:
        head += "Content-Length: %d\r\n" % len(body)
    return (head + "\r\n").encode() + (body or b"")


def parse_answer(data, eof):
    """(status, body) from what arrived so far, None while more is to come;
    OSError for an answer a board would refuse."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if eof:
            raise OSError("connection closed before the HTTP header ended")
        return None
    lines = bytes(data[:end]).split(b"\r\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise OSError("bad HTTP status line")
    try:
        status = int(parts[1])
    except ValueError:
        raise OSError("bad HTTP status line") from None
    length = -1
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            try:
                length = int(line[15:])
            except ValueError:
                raise OSError("bad Content-Length") from None
    body = data[end + 4:]
    want = MAX_BODY if length < 0 else min(length, MAX_BODY)
    if len(body) >= want or eof:
        return status, bytes(body[:want])
    return None


class _Exchange(asyncio.Protocol):
    def __init__(self, request, answer):
        self.request = request
        self.answer = answer    # future: (status, body) or an exception
        self.data = bytearray()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def _settle(self, eof):
        if self.answer.done():
            return
        try:
            got = parse_answer(self.data, eof)
        except OSError as e:
            self.answer.set_exception(e)
            self.transport.close()
            return
        if got is not None:
            self.answer.set_result(got)
            self.transport.close()

    def data_received(self, data):
        self.data += data
        self._settle(False)

    def eof_received(self):
        self._settle(True)
        return False  # close our side too

    def connection_lost(self, exc):
        if not self.answer.done():
            if exc is not None:
                self.answer.set_exception(exc if isinstance(exc, OSError) else OSError(str(exc)))
            else:
                self._settle(True)


def split_url(url):
    """(tls, host, port, path without its leading slash) of an http(s) URL, as the board splits it."""
    proto, _, rest = url.partition("://")
    hostport, _, path = rest.partition("/")
    if hostport.startswith("["):  # an IPv6 literal
        host, _, port = hostport[1:].partition("]")
        port = port[1:]
    else:
        host, _, port = hostport.partition(":")
    tls = proto == "https"
    return tls, host, int(port) if port else (443 if tls else 80), path


class Session:
    """fetch(method, url, headers, body) -> (status, body bytes), each call its own
    connection. An async context manager, as aiohttp's session was."""

    def __init__(self, timeout=TIMEOUT, ssl_context=None):
        self.timeout = timeout
        self.ssl_context = ssl_context  # for https: None = the system's CAs

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False

    async def fetch(self, method, url, headers=None, body=None):
        tls, host, port, path = split_url(url)
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        request = request_bytes(method, host, path, headers, body)
        ssl = None
        if tls:
            if self.ssl_context is None:
                self.ssl_context = _ssl.create_default_context()
            ssl = self.ssl_context
        transport = None
        try:
            async with asyncio.timeout(self.timeout):
                transport, _ = await loop.create_connection(lambda: _Exchange(request, answer), host, port,
                                                            ssl=ssl)
                return await answer
        finally:
            if transport is not None:
                transport.close()
