"""Slow or greedy HTTP clients cost the stub nothing: at most `per_address`
connections from one client address (more are closed at once), and aiohttp's
keep-alive timer, armed from the connection's start and after each response,
closes a connection whose request header has not arrived within
`header_timeout` (a client sending a header byte every few seconds). Request
bodies are read under a timeout by the handlers (`read_body`)."""
import asyncio
import collections
import logging

from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("neoc.server")

SSE_SOCKET_BUFFER = 64 * 1024  # bytes of kernel send buffer per live page


class ConnectionGuard:
    def __init__(self, per_address):
        self.per_address = per_address
        self.open = collections.Counter()
        self.refused = 0
        self._warned = set()

    def admit(self, address):
        if self.open[address] >= self.per_address:
            self.refused += 1
            if address not in self._warned:  # once per address, not per connection
                self._warned.add(address)
                log.warning("more than %d HTTP connections from %s: closing the extra ones",
                            self.per_address, address)
            return False
        self.open[address] += 1
        return True

    def release(self, address):
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]
            self._warned.discard(address)


class GuardedHandler(RequestHandler):
    def __init__(self, manager, guard, **kwargs):
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._address = None
        self._admitted = False

    def connection_made(self, transport):
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        self._address = peer[0] if peer else None
        self._admitted = self._guard.admit(self._address)
        if not self._admitted:
            self.force_close()
            transport.close()

    def connection_lost(self, exc):
        if self._admitted:
            self._admitted = False
            self._guard.release(self._address)
        super().connection_lost(exc)


async def read_body(reading, timeout):
    """await reading (request.json(), request.post()) or raise 408 after `timeout` s."""
    from aiohttp import web
    try:
        return await asyncio.wait_for(reading, timeout)
    except asyncio.TimeoutError:
        raise web.HTTPRequestTimeout(reason="request body not received within %.0f s" % timeout) from None
