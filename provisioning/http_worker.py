"""More than one process answering the stub's HTTP port (`neoc server --http-processes N`).

A boot storm is HTTP work, and one event loop does it on one core (bench/fleet.py:
2,000 devices at once wait for the whole queue). With N > 1, the server and N-1
workers listen on the same port with SO_REUSEPORT, and the kernel spreads new
connections over them. A worker answers the two handshake calls itself, from the
registry file (provisioning/device_endpoints.py, the code the server runs); it
forwards every other request (admin API, live page and its events, broker auth,
log records, images) to the server over a Unix socket in a private directory, so
that what lives in the server's memory (broker policy, alerts, live pages) stays in
one place. A password a worker hands out is first announced to the server, which
answers once its broker enforces the password, as for one it hands out itself.

What is per process: the failed-login limits (a guesser spread over N processes
gets up to N times the tries per window) and --max-connections-per-address.

    python -m provisioning.http_worker --data-dir D --http HOST:PORT --server SOCKET ...
"""
import argparse
import asyncio
import gc
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import aiohttp
from aiohttp import web
from yarl import URL

from provisioning.device_endpoints import (AUTH_FAILURES_PER_ADDRESS, AUTH_FAILURES_PER_LOGIN, AUTH_WINDOW,
                                          HEADER_TIMEOUT, MAX_BODY, DeviceEndpoints, too_many)
from provisioning.http_guard import SSE_SOCKET_BUFFER, ConnectionGuard, GuardedHandler
from provisioning.ratelimit import FailureLimit

log = logging.getLogger("neoc.server")

PEER_HEADER = "X-Neoc-Peer"      # the client's address, as the worker saw it
SCHEME_HEADER = "X-Neoc-Scheme"  # http or https, as the client spoke to the worker
# Not forwarded either way: they describe one hop, not the request.
HOP_HEADERS = frozenset(("connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                         "upgrade"))
START_TIMEOUT = 20.0   # s for a worker to listen
RESTART_DELAY = 1.0    # s, doubled after each death in a row
MAX_RESTART_DELAY = 30.0
STOP_TIMEOUT = 5.0     # s a worker has to end on SIGTERM
MAX_LOCKED = 10000     # locked-out keys a worker keeps before it forgets the expired ones
LINK_LINE_LIMIT = 16 * 1024 * 1024  # bytes of one message from a worker


# -- inside a worker ---------------------------------------------------------------
class ServerLink:
    """What a worker tells the server over their socket pair, a JSON line each way:
    logins whose password changed (the handlers wait until the server's broker knows
    them), alerts, and failed logins (counted by the server for all processes). One
    message at a time: what changes while one is on its way goes in the next, so a
    storm makes few messages. The server also sends, unasked, the logins and addresses
    it locks out."""

    def __init__(self, reader, writer, counts, on_locked):
        self.reader, self.writer = reader, writer
        self.counts = counts  # () -> {"passwords": n}: sent with every message
        self.on_locked = on_locked  # ([kind, key, seconds], ...) the server says are locked out
        self._logins, self._alerts, self._failures = [], [], []
        self._batch = None  # future of the changes not sent yet
        self._sender = None
        self._reply = None  # future of the server's answer to the message on its way
        self.closed = False

    async def read_replies(self):
        """Until the server closes the link (it ended, even by SIGKILL)."""
        try:
            while True:
                line = await self.reader.readline()
                if not line:
                    break
                if line.startswith(b"{"):  # not an answer: logins or addresses the server locked out
                    self.on_locked(json.loads(line)["locked"])
                elif self._reply is not None and not self._reply.done():
                    if line.strip() == b"ok":
                        self._reply.set_result(None)
                    else:
                        self._reply.set_exception(RuntimeError("the server could not apply them"))
        except (ConnectionError, OSError):
            pass
        self.closed = True
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(ConnectionError("the server closed the link"))

    def changed(self, login):
        self._logins.append(login)
        self._wake()

    def alert(self, event):
        self._alerts.append(event)
        self._wake()

    def failed(self, login, address):
        self._failures.append((login, address))
        self._wake()

    def _wake(self):
        if self._batch is None:
            self._batch = asyncio.get_running_loop().create_future()
            self._batch.add_done_callback(lambda f: f.cancelled() or f.exception())  # read: no warning
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_all())

    async def _send_all(self):
        try:
            while self._batch is not None:
                batch, logins, alerts, failures = self._batch, self._logins, self._alerts, self._failures
                self._batch, self._logins, self._alerts, self._failures = None, [], [], []
                try:
                    if self.closed:
                        raise ConnectionError("the server closed the link")
                    self._reply = asyncio.get_running_loop().create_future()
                    self.writer.write(json.dumps({"logins": logins, "alerts": alerts, "failures": failures,
                                                  **self.counts()}).encode()
                                      + b"\n")
                    await self._reply
                except (ConnectionError, OSError, RuntimeError) as exc:
                    # The server is gone (this worker ends with it): the password was stored
                    # but the broker may never learn it.
                    log.error("the server did not take %d changed logins (%s): %s need an admin's "
                              "reset-credentials", len(logins), exc, ", ".join(logins) or "none")
                    batch.set_exception(exc)
                else:
                    batch.set_result(None)
        finally:
            self._sender = None

    async def synced(self):
        """Return once the server's broker knows every login changed so far."""
        if self._batch is not None:
            try:
                await asyncio.shield(self._batch)
            except Exception:
                raise web.HTTPServiceUnavailable(reason="the server is not answering") from None


class Worker(DeviceEndpoints):
    def __init__(self, registry, advertised, session, link):
        self.registry = registry
        self.advertised = advertised
        self.session = session
        self.link = link
        registry.on_change = self.link.changed
        self.login_failures = FailureLimit(AUTH_FAILURES_PER_LOGIN, AUTH_WINDOW)
        self.address_failures = FailureLimit(AUTH_FAILURES_PER_ADDRESS, AUTH_WINDOW)
        self.locked = {}  # ("login" | "address", key) -> monotonic time it may try again

    def _alert(self, kind, mac, message):
        log.warning("alert (%s) for %s: %s", kind, mac, message)
        self.link.alert({"kind": kind, "mac": mac, "message": message})

    async def broker_synced(self):
        await self.link.synced()

    # Failed logins are counted by the server, for all processes: it says which logins and
    # addresses are locked out, and until when.
    def _failure_seen(self, login, address):
        self.link.failed(login, address)

    async def _failures_shared(self):
        await self.link.synced()

    def lock(self, locked):
        now = time.monotonic()
        if len(self.locked) > MAX_LOCKED:
            self.locked = {k: t for k, t in self.locked.items() if t > now}
        for kind, key, seconds in locked:
            self.locked[kind, key] = now + seconds

    def _limited(self, request, login):
        wait = max(self.locked.get(("login", login), 0), self.locked.get(("address", request.remote), 0))
        wait -= time.monotonic()
        if wait > 0:
            return too_many(wait)
        return super()._limited(request, login)

    @web.middleware
    async def _store_errors(self, request, handler):
        issued = self.passwords_issued
        try:
            response = await handler(request)
            if self.registry.store_error is not None and self.passwords_issued > issued:
                self.registry.write_ok()  # a password was written: space is back
            return response
        except sqlite3.OperationalError as exc:
            # Disk full, I/O error, or the server's writes held the file too long:
            # nothing was written, nor a password handed out (the server's answer too).
            self.registry.write_failed(exc)
            return web.json_response({"error": "the registry cannot write (%s); retry later" % exc}, status=507)

    def make_app(self):
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._store_errors])
        app.add_routes([web.get("/device/credentials", self.credentials),
                        web.post("/device/credentials", self.credentials),
                        web.get("/device/config", self.config),
                        web.route("*", "/{tail:.*}", self.forward)])
        return app

    async def forward(self, request):
        """The request, as it came, to the server; its answer, as it comes (an event stream too)."""
        headers = [(k, v) for k, v in request.headers.items()
                   if k.lower() not in HOP_HEADERS and not k.lower().startswith("x-neoc-")]
        headers += [(PEER_HEADER, request.remote or ""), (SCHEME_HEADER, request.scheme)]
        data = request.content if request.body_exists else None
        url = URL("http://neoc-server" + request.raw_path, encoded=True)
        try:
            upstream = await self.session.request(request.method, url, headers=headers, data=data,
                                                  allow_redirects=False)
        except aiohttp.ClientError as exc:
            log.error("forwarding %s %s to the server failed: %s", request.method, request.path, exc)
            return web.json_response({"error": "the server is not answering"}, status=502)
        try:
            resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for k, v in upstream.headers.items():
                if k.lower() not in HOP_HEADERS and k.lower() != "content-length":
                    resp.headers.add(k, v)
            if upstream.content_length is not None:
                resp.content_length = upstream.content_length
            sock = request.transport.get_extra_info("socket") if request.transport else None
            if sock is not None and upstream.content_type == "text/event-stream":
                # As the server bounds a live page's buffer: one that does not read blocks the
                # relay soon, then the server's write, and the server drops it.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SSE_SOCKET_BUFFER)
            await resp.prepare(request)
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp
        except (ConnectionError, aiohttp.ClientError):
            # The client left (a live page closed) or the server did: end both sides.
            if request.transport is not None:
                request.transport.abort()
            return resp
        finally:
            upstream.release()


async def run_worker(args):
    from provisioning.registry import Registry
    from provisioning.tls import server_context
    host, port = args.http.rsplit(":", 1)
    advertised = tuple(json.loads(args.advertise)) if args.advertise else None
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(sock=socket.socket(fileno=args.link_fd))
    connector = aiohttp.UnixConnector(path=args.server, limit=256)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:
        registry = Registry(os.path.join(args.data_dir, "registry.sqlite3"))
        link = ServerLink(reader, writer, lambda: {"passwords": worker.passwords_issued},
                          lambda locked: worker.lock(locked))
        worker = Worker(registry, advertised, session, link)
        runner = web.AppRunner(worker.make_app(), access_log=None)
        await runner.setup()
        guard = ConnectionGuard(args.per_address)

        def handler():
            return GuardedHandler(runner.server, guard, loop=loop, access_log=None, keepalive_timeout=HEADER_TIMEOUT)
        tls = server_context(args.tls_cert, args.tls_key) if args.tls_cert else None
        server = await loop.create_server(handler, host.strip("[]"), int(port), backlog=4096, reuse_port=True,
                                          ssl=tls)
        stop = asyncio.Event()
        # SIGTERM only: Ctrl-C stays ignored (main()), else the worker would end before the
        # server stops it and the server would take that for a death and start another.
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        gc.collect()
        gc.freeze()  # as the server: start-up's objects out of later full collections
        writer.write(b"ready\n")
        # The link ends when the server does, even by SIGKILL: so does this worker.
        link_lost = loop.create_task(link.read_replies())
        stopped = loop.create_task(stop.wait())
        await asyncio.wait([link_lost, stopped], return_when=asyncio.FIRST_COMPLETED)
        for t in (link_lost, stopped):
            t.cancel()
        server.close()
        await runner.cleanup()
        registry.close()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m provisioning.http_worker", description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--http", required=True, help="HOST:PORT the server listens on")
    p.add_argument("--server", required=True, help="the server's Unix socket")
    p.add_argument("--advertise", default="", help='JSON ["host", port] sent to devices, or empty')
    p.add_argument("--per-address", type=int, default=256)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--link-fd", type=int, required=True, help="its end of a socket pair with the server")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s[http %(process)d] %(levelname)s %(message)s")
    # Ctrl-C in a terminal reaches the whole group: the server stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from provisioning.eventloop import run
    run(run_worker(args))


# -- in the server -----------------------------------------------------------------
class WorkerPool:
    """The server's N-1 workers: started, started again when one dies, stopped.
    on_changes(message) is awaited for each message a worker sends (ServerLink);
    the worker has its answer when it returns."""

    def __init__(self, count, argv, on_changes):
        self.count = count
        self.argv = argv  # the worker's command-line arguments but --link-fd
        self.on_changes = on_changes
        self.procs = {}  # slot -> asyncio.subprocess.Process
        self.restarts = 0
        self.stats = {}  # pid -> {"passwords": n}, as each worker last said
        self.writers = {}  # slot -> its link's writer
        self._tasks = []
        self._stopping = False

    async def start(self):
        links = await asyncio.gather(*(self._spawn(slot) for slot in range(self.count)))
        self._tasks = [asyncio.ensure_future(self._serve(slot, link)) for slot, link in enumerate(links)]

    async def _spawn(self, slot):
        ours, theirs = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "provisioning.http_worker", *self.argv, "--link-fd", str(theirs.fileno()),
                stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),),
                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        finally:
            theirs.close()
        self.procs[slot] = proc
        # A message holds every login changed during the previous one: thousands in a storm.
        reader, writer = await asyncio.open_connection(sock=ours, limit=LINK_LINE_LIMIT)
        try:
            line = await asyncio.wait_for(reader.readline(), START_TIMEOUT)
        except asyncio.TimeoutError:
            line = b""
        if line.strip() != b"ready":
            writer.close()
            await self._end(proc)
            raise RuntimeError("HTTP worker %d did not start (exit code %s); its log is above"
                               % (proc.pid, proc.returncode))
        return reader, writer

    async def _serve(self, slot, link):
        delay = RESTART_DELAY
        while True:
            proc = self.procs[slot]
            reader, writer = link
            self.writers[slot] = writer
            try:
                while True:
                    line = await reader.readline()
                    if not line:
                        break
                    message = json.loads(line)
                    self.stats[proc.pid] = {"passwords": message.get("passwords", 0)}
                    try:
                        await self.on_changes(message)
                        writer.write(b"ok\n")
                    except Exception:
                        log.exception("the changes HTTP worker %d sent could not be applied", proc.pid)
                        writer.write(b"error\n")
            except (ConnectionError, OSError, ValueError) as exc:
                log.error("HTTP worker %d: link broken: %s", proc.pid, exc)
            writer.close()
            await self._end(proc)
            self.stats.pop(proc.pid, None)
            if self._stopping:
                return
            self.restarts += 1
            log.error("HTTP worker %d ended with code %s; starting another in %.0f s", proc.pid, proc.returncode,
                      delay)
            while True:
                await asyncio.sleep(delay)
                try:
                    link = await self._spawn(slot)
                    delay = RESTART_DELAY
                    break
                except (OSError, RuntimeError) as exc:
                    log.error("%s", exc)
                    delay = min(MAX_RESTART_DELAY, 2 * delay)

    def tell_locked(self, locked):
        """Tell every worker these [kind, key, seconds] are locked out."""
        line = json.dumps({"locked": locked}).encode() + b"\n"
        for writer in self.writers.values():
            if not writer.is_closing():
                writer.write(line)

    def pids(self):
        return [p.pid for p in self.procs.values() if p.returncode is None]

    async def _end(self, proc):
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()

    async def stop(self):
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(self._end(p) for p in self.procs.values()), return_exceptions=True)


if __name__ == "__main__":
    main()
