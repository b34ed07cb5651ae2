"""The device side of the handshake, as the protocol document says: the credentials
call (password on the first call of a registered MAC) and the config call (HTTP
Basic with that password). Shared by the stub and its extra HTTP processes
(provisioning/http_worker.py), which answer the same calls from the same registry.

A class using it provides `registry`, `advertised`, `login_failures`,
`address_failures`, `_alert(kind, mac, message)`, and `broker_synced()`, which
returns once the broker enforces every password handed out so far."""
import asyncio
import logging
import math

from aiohttp import BasicAuth, web

from provisioning import passwords
from provisioning.http_guard import read_body

log = logging.getLogger("neoc.server")

MAX_BODY = 64 * 1024
HEADER_TIMEOUT = 10.0          # s for a request header to arrive (and for an idle keep-alive)
BODY_TIMEOUT = 10.0            # s for a request body
AUTH_WINDOW = 60.0             # s
AUTH_FAILURES_PER_LOGIN = 10   # failed logins in the window before 429
AUTH_FAILURES_PER_ADDRESS = 100


def forbidden():
    # The protocol's refusal: 403 and nothing else.
    return web.Response(status=403, body=b"")


def _printable(text, limit=60):
    return str(text)[:limit].encode("unicode_escape").decode("ascii")


def too_many(wait):
    return web.json_response({"error": "too many failed logins; retry in %d s" % math.ceil(wait)},
                             status=429, headers={"Retry-After": str(math.ceil(wait))})


class DeviceEndpoints:
    passwords_issued = 0

    async def credentials(self, request):
        mac = request.query.get("mac")
        if mac is None and request.method == "POST":
            if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await read_body(request.post(), BODY_TIMEOUT)
                mac = form.get("mac")
        if not isinstance(mac, str):
            return forbidden()
        row = self.registry.lookup(mac)
        issued = None
        if row is not None and row["enabled"] and row["password_pending"]:
            issued = passwords.issue()  # microseconds (passwords.py: profiled): no worker thread
        answer = self.registry.credentials(mac, issued, self.advertised, claimer=request.remote, row=row)
        if answer is None:
            if row is not None and row["enabled"] and row["password_pending"]:
                self._alert("claim after window", row["mac"], "a credentials call from %s after the claim "
                            "window closed; reset-credentials opens a new one" % request.remote)
            log.info("credentials refused for %s", _printable(mac))
            return forbidden()
        if "password" in answer:
            self.passwords_issued += 1
            await self.broker_synced()
        elif row is not None and row["claimed_from"] and row["claimed_from"] != request.remote:
            # Its password went to another address: a second claimer, or the device moved.
            self._alert("second claim", row["mac"], "credentials asked from %s; the password went to %s"
                        % (request.remote, row["claimed_from"]))
        return web.json_response(answer)

    def _limited(self, request, login):
        """A 429 when this login or this client address failed too often lately, else None."""
        wait = max(self.login_failures.retry_after(login), self.address_failures.retry_after(request.remote))
        return too_many(wait) if wait else None

    def _auth_failed(self, request, login):
        self.login_failures.failed(login)
        self.address_failures.failed(request.remote)
        self._failure_seen(login, request.remote)

    def _failure_seen(self, login, address):
        """Where other processes answer too (--http-processes): they hear of it."""

    async def _failures_shared(self):
        """Return once the other processes, if any, count the failures seen so far."""

    async def _basic_device(self, request):
        """(device row or None, a 429 response or None) for the request's Basic auth."""
        header = request.headers.get("Authorization")
        if not header:
            return None, None
        try:
            auth = BasicAuth.decode(header)
        except ValueError:
            return None, None
        limited = self._limited(request, auth.login)
        if limited is not None:
            return None, limited
        row = self.registry.device_for_login(auth.login)
        # An unknown login is checked against a dummy hash: the same work and answer. A
        # hash of many iterations (made before passwords.py's profile) is checked in a
        # worker thread (hashlib drops the GIL), a cheap one here.
        stored = row["password_hash"] if row is not None else passwords.DUMMY_REGISTRY_HASH
        if passwords.cheap(stored):
            ok = passwords.registry_verify(auth.password, stored)
            if not ok or row is None:
                self._auth_failed(request, auth.login)
                await self._failures_shared()  # the next guess, wherever it lands, is counted with it
                return None, None
            return row, None  # checked in this loop turn: nothing changed it meanwhile
        ok = await asyncio.get_running_loop().run_in_executor(None, passwords.registry_verify,
                                                              auth.password, stored)
        if not ok or row is None:
            self._auth_failed(request, auth.login)
            await self._failures_shared()
            return None, None
        # Re-read: the device may have been reset or disabled while the hash was checked.
        fresh = self.registry.device_for_login(auth.login)
        if fresh is None or fresh["password_hash"] != row["password_hash"]:
            return None, None
        return fresh, None

    async def config(self, request):
        row, limited = await self._basic_device(request)
        if row is None:
            return limited or forbidden()
        self.registry.seen(row)
        return web.json_response(self.registry.config(row))
