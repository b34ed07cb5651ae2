"""The sensOCampus server stub: registry HTTP API, admin API, live page, in one loop.

`Stub` wires the pieces: the SQLite registry, a broker back-end fed by the
shared Policy, the collector, and an aiohttp application serving
- the device side exactly as the protocol document says (/device/...),
- the admin API under /api/ (Bearer token),
- the live page at / with its state and server-sent events under /live/.
"""
import asyncio
import collections
import datetime
import gc
import hmac
import ipaddress
import json
import logging
import math
import os
import pathlib
import secrets
import shutil
import socket
import sqlite3
import tempfile
import time

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from provisioning import acl
from provisioning.broker import EmbeddedBroker, MosquittoBroker, Policy
from provisioning.collector import Collector, store_state
from provisioning.device_endpoints import (AUTH_FAILURES_PER_ADDRESS, AUTH_FAILURES_PER_LOGIN, AUTH_WINDOW,
                                          BODY_TIMEOUT, HEADER_TIMEOUT, MAX_BODY, DeviceEndpoints, forbidden)
from provisioning.http_guard import SSE_SOCKET_BUFFER, ConnectionGuard, GuardedHandler, read_body
from provisioning.http_worker import PEER_HEADER, SCHEME_HEADER
from provisioning.ratelimit import FailureLimit
from provisioning.releases import MAX_FILE, ReleaseError, Releases
from neocampus.ids import unit_id
from provisioning.registry import MODULE_NAME, NotFound, Registry, RegistryError, clean_mac

log = logging.getLogger("neoc.server")

STATIC = pathlib.Path(__file__).resolve().parent / "static"
BROKERS = ("embedded", "mosquitto", "external")
MAX_SSE_CLIENTS = 50           # live pages open at once
SSE_QUEUE = 200                # events queued per live page before it is dropped as too slow
SSE_WRITE_TIMEOUT = 5.0        # s a live page may take to take one event
RELOAD_DELAY = 0.05     # s: registry changes within this window make one Mosquitto reload
MOSQUITTO_SETTLE = 0.05  # s: time allowed to Mosquitto to act on SIGHUP
# s: time allowed to whoever runs an external broker to see the rewritten files and
# reload it (a path unit, campus/brokers.py's watcher), before a new password goes out:
# a device connecting at once would otherwise be refused and wait for its backoff.
EXTERNAL_SETTLE = 0.2
COLLECTOR_START_WAIT = 5.0  # s the stub waits for the collector's subscription before it says ready
# Stub(advertise=LISTENER): devices are sent the --mqtt address itself, or this
# machine's hostname when that address is a wildcard nobody can dial.
LISTENER = "listener"
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")


def json_error(status, message):
    return web.json_response({"error": message}, status=status)


def write_secret(path, value):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)


def read_or_create_secret(path):
    path = pathlib.Path(path)
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    value = secrets.token_urlsafe(24)
    write_secret(path, value)
    return value


def parse_since(value):
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        dt = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise RegistryError("since must be epoch seconds or an ISO 8601 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp()


def _loopback(address):
    try:
        return ipaddress.ip_address(address).is_loopback
    except (TypeError, ValueError):
        return False


def int_param(query, name, low, high):
    text = query.get(name)
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise RegistryError("%s must be an integer" % name) from None
    if not low <= value <= high:
        raise RegistryError("%s must be between %d and %d" % (name, low, high))
    return value


def text_param(query, name, limit=200):
    text = query.get(name)
    if not text:
        return None
    if len(text) > limit:
        raise RegistryError("%s is longer than %d characters" % (name, limit))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RegistryError("%s is not UTF-8" % name) from None
    return text


def _dialable(host):
    if not isinstance(host, str) or host in WILDCARD_HOSTS or len(host) > 253:
        return False
    bare = host[1:-1] if host[:1] == "[" and host[-1:] == "]" else host
    if ":" in bare:  # only an IPv6 literal has colons
        try:
            return not ipaddress.IPv6Address(bare).is_unspecified
        except ValueError:
            return False
    return bool(bare) and not any(c.isspace() or c in "/@[]" for c in bare)


def check_broker_address(address):
    """(host, port) a device can dial, or ValueError."""
    try:
        host, port = address
    except (TypeError, ValueError):
        raise ValueError("an advertised broker is (host, port), not %r" % (address,)) from None
    if not _dialable(host):
        raise ValueError("advertised broker host %r is not a host name or address a device can dial" % (host,))
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError("advertised broker port must be 1-65535, not %r" % (port,))
    return host, port


def advertised_broker(advertise, host, port):
    """(the (host, port) devices are sent or None, a note for the start-up line)
    for Stub's `advertise` and the broker's listener address."""
    if advertise != LISTENER:
        return advertise, ""
    if not port:
        return None, " (the --mqtt port is 0: none known to advertise)"
    if host in WILDCARD_HOSTS:
        return (socket.gethostname(), port), (
            " (this machine's hostname: the listener %s has no address a device can dial; "
            "--advertise-broker HOST:PORT to choose)" % (host or "0.0.0.0"))
    return (host, port), ""


class Stub(DeviceEndpoints):
    """advertise: the broker every device is sent in its credentials answer
    (`server`, `port`) unless it has an override of its own: LISTENER (the
    default) for the mqtt address, or this machine's hostname with its port when
    that is a wildcard (0.0.0.0, ::); an explicit (host, port); None for none
    (a stub in front of the campus broker, which devices know already)."""

    def __init__(self, data_dir="./neoc-data", http=("127.0.0.1", 8000), mqtt=("127.0.0.1", 1883),
                 broker="embedded", token=None, advertise=LISTENER, public_page=False, claim_window=3600.0,
                 max_connections_per_address=256, tls=None, http_processes=1, tls_files=None):
        if broker not in BROKERS:
            raise ValueError("broker must be one of %s" % ", ".join(BROKERS))
        if advertise not in (LISTENER, None):
            advertise = check_broker_address(advertise)
        self.advertise = advertise
        self.public_page = public_page  # else the live page wants the viewer token
        self.max_connections_per_address = max_connections_per_address
        self.tls = tls  # a server ssl.SSLContext: HTTPS instead of HTTP (provisioning/tls.py)
        self.tls_files = tls_files  # (cert, key) paths of `tls`, for the HTTP workers
        self.http_processes = http_processes  # provisioning/http_worker.py
        self.workers = None
        self._internal = None  # (directory, Unix socket path) the workers forward to
        self.viewer_token = None
        # Seconds after registration or reset within which the first credentials call
        # gets the password (None: no limit); `neoc device add --claim-window` per device.
        self.claim_window = claim_window or None
        self.alerts = collections.deque(maxlen=100)  # {"time", "kind", "mac", "message"}
        self.advertised = None  # (host, port) sent to devices, once started
        self._advertise_note = ""
        self.data_dir = pathlib.Path(data_dir)
        self.http_host, self.http_port = http
        self.mqtt_host, self.mqtt_port = mqtt
        self.broker_kind = broker
        self.token = token
        self.token_path = None
        self.registry = None
        self.backend = None
        self.collector = None
        self.runner = None
        self.listeners = set()  # asyncio.Queue per live page
        self.sse_dropped = 0  # live pages dropped for not reading
        self._reload_handle = None
        self._synced = None  # future: done when the broker has the latest registry state
        # Failed authentications (HTTP Basic, the auth-plugin endpoint) per login and per address.
        self.login_failures = FailureLimit(AUTH_FAILURES_PER_LOGIN, AUTH_WINDOW)
        self.address_failures = FailureLimit(AUTH_FAILURES_PER_ADDRESS, AUTH_WINDOW)

    # -- lifecycle ----------------------------------------------------------
    async def start(self):
        # Private: it holds the token, the collector's password and the credential hashes.
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)  # whatever it was made with
        if not self.token:
            self.token_path = self.data_dir / "admin-token"
            self.token = read_or_create_secret(self.token_path)
        collector_password = read_or_create_secret(self.data_dir / "collector-password")
        self.viewer_token = read_or_create_secret(self.data_dir / "viewer-token")
        self.registry = Registry(self.data_dir / "registry.sqlite3", on_change=self._on_registry_change)
        for name in ("registry.sqlite3", "registry.sqlite3-wal", "registry.sqlite3-shm"):
            if (self.data_dir / name).exists():
                os.chmod(self.data_dir / name, 0o600)  # it holds the password hashes
        observer_password = read_or_create_secret(self.data_dir / "observer-password")
        self.policy = Policy(acl.COLLECTOR_USER, collector_password, observer_password)
        self.policy.refresh_all(self.registry)
        if self.broker_kind == "embedded":
            self.backend = EmbeddedBroker(self.policy, self.mqtt_host, self.mqtt_port)
        else:
            self.backend = MosquittoBroker(self.policy, self.data_dir / "mosquitto", self.mqtt_host,
                                           self.mqtt_port, managed=self.broker_kind == "mosquitto")
        self.collector = Collector(self.registry, self.mqtt_host, self.mqtt_port, acl.COLLECTOR_USER,
                                   collector_password, on_readings=self._push_readings,
                                   on_status=self._push_status,
                                   # The embedded broker dies with the stub: acknowledging after the
                                   # commit would save nothing there (README: what it loses).
                                   manual_ack=self.broker_kind != "embedded",
                                   # MQTT 5's flow control where someone else runs the broker; on
                                   # ours, 3.1.1 (half paho's CPU per message) with the in-flight
                                   # bound raised in its configuration.
                                   mqtt5=self.broker_kind == "external",
                                   on_subscribed=getattr(self.backend, "save", None))
        # Its receiver process starts now (interpreter and paho imports) while the broker starts.
        self.collector.prepare()
        await self.backend.start()
        self.advertised, self._advertise_note = advertised_broker(self.advertise, self.backend.host,
                                                                  self.backend.port)
        self.collector.start()
        self.releases = Releases(self.data_dir)
        self.app = self.make_app()
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        self.http_guard = ConnectionGuard(self.max_connections_per_address)
        loop = asyncio.get_running_loop()
        manager = self.runner.server

        def handler():
            return GuardedHandler(manager, self.http_guard, loop=loop, access_log=None,
                                  keepalive_timeout=HEADER_TIMEOUT)
        shared = self.http_processes > 1
        if shared:
            # SO_REUSEPORT lets any process of this user join the port: a plain bind first
            # says "in use" when another server holds it, as without workers.
            self.http_port = _check_port_free(self.http_host, self.http_port)
        # A boot storm opens hundreds of connections at once: a short backlog
        # would drop SYNs and cost each device a 1 s retransmission.
        self.http_server = await loop.create_server(handler, self.http_host, self.http_port, backlog=4096,
                                                    ssl=self.tls, reuse_port=shared or None)
        if not self.http_port:
            self.http_port = self.http_server.sockets[0].getsockname()[1]
        if shared:
            await self._start_workers(manager)
        # On a broker of its own, "ready" means readings published from now on are
        # collected: wait for the collector's subscription (not for ever). A broker someone
        # else runs may come later: not waited for.
        if self.broker_kind != "external" and not await self.collector.subscribed(COLLECTOR_START_WAIT):
            log.warning("collector: not subscribed on the broker %s:%d after %.0f s; it keeps trying, "
                        "readings are stored once it is", self.mqtt_host, self.mqtt_port, COLLECTOR_START_WAIT)

    async def _start_workers(self, manager):
        from provisioning.http_worker import WorkerPool
        directory = tempfile.mkdtemp(prefix="neoc-http-")  # 0700: only this user forwards
        path = os.path.join(directory, "server.sock")
        self._internal = (directory, path)
        # Forwarded requests are counted by the worker's guard, not again here.
        loop = asyncio.get_running_loop()
        self.internal_server = await loop.create_unix_server(
            lambda: RequestHandler(manager, loop=loop, access_log=None, keepalive_timeout=HEADER_TIMEOUT), path,
            backlog=1024)
        argv = ["--data-dir", str(self.data_dir.resolve()), "--http", "%s:%d" % (self.http_host, self.http_port),
                "--server", path, "--advertise", json.dumps(self.advertised) if self.advertised else "",
                "--per-address", str(self.max_connections_per_address)]
        if self.tls:
            if not self.tls_files:
                raise RuntimeError("HTTP workers need the certificate and key files of the TLS context")
            argv += ["--tls-cert", os.path.abspath(self.tls_files[0]), "--tls-key", os.path.abspath(self.tls_files[1])]
        if log.isEnabledFor(logging.DEBUG):
            argv.append("--verbose")
        self.workers = WorkerPool(self.http_processes - 1, argv, self._worker_changes)
        await self.workers.start()

    async def stop(self):
        if self.workers is not None:
            await self.workers.stop()  # first: they forward to this process
        if self._internal is not None:
            self.internal_server.close()
            shutil.rmtree(self._internal[0], ignore_errors=True)
        for q in list(self.listeners):
            try:
                q.put_nowait(None)
            except asyncio.QueueFull:
                pass
        if self._reload_handle:
            self._reload_handle.cancel()
        if getattr(self, "http_server", None) is not None:
            self.http_server.close()
        # Each part is stopped even if an earlier one fails, so no child broker is left behind.
        for part, stop in (("http", self.runner and self.runner.cleanup), ("collector", self.collector and
                           self.collector.stop), ("broker", self.backend and self.backend.stop)):
            if stop:
                try:
                    await stop()
                except Exception:
                    log.exception("stopping the %s failed", part)
        if self.registry:
            self.registry.close()

    def _on_registry_change(self, login):
        self.policy.update(self.registry, login)
        if self.listeners:
            self._broadcast({"type": "devices"})
        if isinstance(self.backend, EmbeddedBroker):
            self.backend.changed(login)
        elif self._reload_handle is None:
            # Mosquitto: coalesce a burst of changes (a boot storm) into one rewrite + SIGHUP.
            loop = asyncio.get_running_loop()
            self._synced = loop.create_future()
            self._reload_handle = loop.call_later(RELOAD_DELAY, self._reload_broker, self._synced)

    def _reload_broker(self, synced):
        self._reload_handle = None
        try:
            self.backend.changed()
        except Exception:
            log.exception("broker reload failed")
        # Mosquitto re-reads its files when its loop sees the SIGHUP; give it that moment.
        settle = {"mosquitto": MOSQUITTO_SETTLE, "external": EXTERNAL_SETTLE}.get(self.broker_kind, 0)
        asyncio.get_running_loop().call_later(settle, lambda: synced.done() or synced.set_result(None))

    async def broker_synced(self):
        """Return once the broker enforces every registry change made so far, so that a
        password handed out (or revoked) is already valid (or dead) on the broker."""
        fut = self._synced
        if fut is not None and not fut.done():
            await asyncio.shield(fut)

    # -- live events ---------------------------------------------------------
    def _broadcast(self, event):
        for q in list(self.listeners):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                # A reader this far behind is dropped: its queue is freed, its stream ends.
                self.listeners.discard(q)
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(None)
                self.sse_dropped += 1

    def _push_readings(self, readings, counts):
        """counts: the reading counts (seqcount.public) of the devices these came from, by MAC."""
        if self.listeners:
            self._broadcast({"type": "readings", "readings": readings, "counts": counts})

    def _push_status(self, topic, data, received):
        if self.listeners and topic.endswith("/device"):
            self._broadcast({"type": "status", "topic": topic, "status": data, "received_at": received})

    # -- application ---------------------------------------------------------
    def make_app(self):
        # One middleware, not two: aiohttp wraps each again for every request.
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._errors])
        app.add_routes([
            web.get("/device/credentials", self.credentials),
            web.post("/device/credentials", self.credentials),
            web.get("/device/config", self.config),
            web.post("/device/logger", self.logger),
            web.route("*", "/mqtt_auth/auth", self.mqtt_auth),
            web.route("*", "/mqtt_auth/superuser", self.mqtt_superuser),
            web.route("*", "/mqtt_auth/acl", self.mqtt_acl),
            web.get("/api/devices", self.api_devices),
            web.post("/api/devices", self.api_add),
            web.get("/api/devices/{mac}", self.api_device),
            web.patch("/api/devices/{mac}", self.api_update),
            web.delete("/api/devices/{mac}", self.api_delete),
            web.post("/api/devices/{mac}/disable", self.api_disable),
            web.post("/api/devices/{mac}/enable", self.api_enable),
            web.post("/api/devices/{mac}/reset-credentials", self.api_reset),
            web.post("/api/devices/{mac}/order", self.api_order),
            web.get("/api/devices/{mac}/logs", self.api_logs),
            web.get("/api/devices/{mac}/status", self.api_status),
            web.get("/api/readings", self.api_readings),
            web.get("/api/collector", self.api_collector),
            web.get("/api/http", self.api_http),
            web.get("/api/releases", self.api_releases),
            web.post("/api/releases/{board}", self.api_release_publish),
            web.put("/api/releases/{board}/{revision}/files/{path:.+}", self.api_release_file),
            web.get("/", self.index),
            web.get("/live/state", self.live_state),
            web.get("/live/events", self.live_events),
            # The boards' update check and download (firmware/neosensor/ota.py).
            web.static("/images", self.releases.root, follow_symlinks=False),
        ])
        return app

    def _forwarded(self, request):
        """Whether this request came from a worker, over the private Unix socket."""
        return self._internal is not None and request.transport is not None and \
            request.transport.get_extra_info("sockname") == self._internal[1]

    @web.middleware
    async def _errors(self, request, handler):
        """Admin authentication on /api/, then the registry's errors as HTTP answers."""
        if self._forwarded(request):
            # The client as the worker saw it: rate limits, alerts and loopback checks use it.
            request = request.clone(remote=request.headers.get(PEER_HEADER, ""),
                                    scheme=request.headers.get(SCHEME_HEADER, "http"))
        try:
            if request.path.startswith("/api/") and not self._admin(request):
                return web.json_response({"error": "admin token required (Authorization: Bearer TOKEN)"},
                                         status=401, headers={"WWW-Authenticate": "Bearer"})
            response = await handler(request)
            if (self.registry.store_error is not None and request.method not in ("GET", "HEAD")
                    and request.path.startswith("/api/") and response.status < 400):
                self.registry.write_ok()  # an admin change was written: space is back
            return response
        except sqlite3.OperationalError as exc:
            # Disk full or I/O error: nothing was written (nor a password handed out).
            self.registry.write_failed(exc)
            return json_error(507, "the registry cannot write (%s); free space in the data directory "
                                   "and retry" % exc)
        except RegistryError as exc:
            return json_error(400, str(exc))
        except NotFound as exc:
            return json_error(404, str(exc))
        except web.HTTPException as exc:
            if request.path.startswith(("/device/", "/mqtt_auth/")) and exc.status == 403:
                return forbidden()
            if exc.status >= 400 and request.path.startswith("/api/"):
                return json_error(exc.status, exc.reason)
            raise

    def _admin(self, request):
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode())

    # -- device side (the handshake: provisioning/device_endpoints.py) -----------
    async def _worker_changes(self, message):
        """A worker handed out passwords: into the Policy and the broker before it answers."""
        for login in message.get("logins", ()):
            self._on_registry_change(login)
        for a in message.get("alerts", ()):
            self._alert(a["kind"], a["mac"], a["message"], logged=True)
        for login, address in message.get("failures", ()):
            self.login_failures.failed(login)
            self.address_failures.failed(address)
            self._failure_seen(login, address)
        await self.broker_synced()

    def _failure_seen(self, login, address):
        """Counted here for every process: the workers hear of a login or address locked out."""
        if self.workers is None:
            return
        locked = [[kind, key, wait] for kind, key, wait in (
            ("login", login, self.login_failures.retry_after(login)),
            ("address", address, self.address_failures.retry_after(address))) if wait]
        if locked:
            self.workers.tell_locked(locked)

    def _alert(self, kind, mac, message, logged=False):
        if not logged:  # by the worker that saw it
            log.warning("alert (%s) for %s: %s", kind, mac, message)
        self.alerts.append({"time": time.time(), "kind": kind, "mac": mac, "message": message})
        if self.listeners:
            self._broadcast({"type": "alert", "kind": kind, "mac": mac, "message": message})

    async def logger(self, request):
        row, limited = await self._basic_device(request)
        if row is None:
            return limited or forbidden()
        if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return json_error(415, "log records are posted as form fields")
        form = await read_body(request.post(), BODY_TIMEOUT)
        record = self.registry.add_log(row["mac"], form)
        return web.json_response({"stored": True, "levelname": record.get("levelname")})

    # -- broker auth-plugin endpoints (historic sensOCampus) ------------------
    # For a broker that delegates to HTTP (mosquitto-auth-plug, mosquitto-go-auth):
    # the same Policy as the embedded broker and the Mosquitto files. 200 = allow.
    ACC = {"1": "receive", "2": "publish", "4": "subscribe"}

    async def _auth_fields(self, request):
        # These answer the broker, which runs on this machine; from anywhere else they
        # would tell an attacker which logins exist and what they may do.
        if not _loopback(request.remote):
            raise web.HTTPForbidden()
        fields = dict(request.query)
        if request.method == "POST" and request.content_type in (
                "application/x-www-form-urlencoded", "multipart/form-data"):
            fields.update(await read_body(request.post(), BODY_TIMEOUT))
        elif request.method == "POST" and request.content_type == "application/json":
            try:
                body = await read_body(request.json(), BODY_TIMEOUT)
            except ValueError:
                body = None
            if isinstance(body, dict):
                fields.update({k: str(v) for k, v in body.items()})
        return fields

    async def mqtt_auth(self, request):
        f = await self._auth_fields(request)
        username = f.get("username")
        limited = self._limited(request, username)
        if limited is not None:
            return limited
        ok = self.policy.authenticate(username, f.get("password"))
        if not ok:
            self._auth_failed(request, username)
        return web.Response(status=200) if ok else forbidden()

    async def mqtt_superuser(self, request):
        return forbidden()  # nobody bypasses the ACL, not even the collector

    async def mqtt_acl(self, request):
        f = await self._auth_fields(request)
        user, topic, acc = f.get("username"), f.get("topic"), str(f.get("acc", ""))
        actions = {"3": ("receive", "publish")}.get(acc) or ((self.ACC[acc],) if acc in self.ACC else ())
        ok = bool(actions) and all(self.policy.allowed(user, a, topic) for a in actions)
        return web.Response(status=200) if ok else forbidden()

    # -- admin side ----------------------------------------------------------
    async def _json_body(self, request):
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(reason="send application/json")
        try:
            body = await read_body(request.json(), BODY_TIMEOUT)
        except (ValueError, UnicodeDecodeError):
            raise RegistryError("body is not valid JSON") from None
        if not isinstance(body, dict):
            raise RegistryError("body must be a JSON object")
        return body

    async def api_devices(self, request):
        return web.json_response(self.registry.devices())

    async def api_add(self, request):
        body = await self._json_body(request)
        location = body.get("location")
        if location is None and "building" in body:
            location = (body.get("building"), body.get("room"))
        if "mac" not in body:
            raise RegistryError("mac is required")
        device = self.registry.add_device(body["mac"], location, kind=body.get("kind", "neosensor"),
                                          modules=body.get("modules"), server=body.get("server"),
                                          port=body.get("port"), rooms=body.get("rooms"),
                                          claim_window=self._claim_window(body))
        await self.broker_synced()
        return web.json_response(device, status=201)

    async def api_device(self, request):
        return web.json_response(self.registry.device(request.match_info["mac"]))

    async def api_update(self, request):
        body = await self._json_body(request)
        location = body.get("location")
        if location is None and "building" in body:
            location = (body.get("building"), body.get("room"))
        unknown = set(body) - {"location", "building", "room", "kind", "modules", "enabled", "rooms"}
        if unknown:
            raise RegistryError("cannot update %s" % ", ".join(sorted(unknown)))
        device = self.registry.update_device(
            request.match_info["mac"], location=location, kind=body.get("kind"), modules=body.get("modules"),
            enabled=body.get("enabled"), rooms=body.get("rooms"))
        await self.broker_synced()
        return web.json_response(device)

    async def api_delete(self, request):
        self.registry.delete_device(request.match_info["mac"])
        await self.broker_synced()
        return web.json_response({"deleted": clean_mac(request.match_info["mac"])})

    async def api_disable(self, request):
        device = self.registry.set_enabled(request.match_info["mac"], False)
        await self.broker_synced()
        return web.json_response(device)

    async def api_enable(self, request):
        device = self.registry.set_enabled(request.match_info["mac"], True)
        await self.broker_synced()
        return web.json_response(device)

    def _claim_window(self, body):
        """The body's claim_window (seconds; 0 for none) or the server's default."""
        if "claim_window" not in body:
            return self.claim_window
        window = body["claim_window"]
        if window in (0, None):
            return None
        return window

    async def api_reset(self, request):
        body = await self._json_body(request) if request.can_read_body else {}
        device = self.registry.reset_credentials(request.match_info["mac"],
                                                 claim_window=self._claim_window(body))
        await self.broker_synced()
        return web.json_response(device)

    async def api_order(self, request):
        """Device orders go to <loc>/device/command with dest = the MAC (protocol);
        `module` sends a module order to <loc>/<module>/command, addressed to that
        module's unitID (`auto_xxxx` or `<unit>_xxxx` from the device's zone) unless
        `dest` is given ("all" reaches every unit of the room)."""
        device = self.registry.device(request.match_info["mac"])
        body = await self._json_body(request)
        order = body.get("order")
        if not isinstance(order, str) or not order or len(order) > 64:
            raise RegistryError("order must be a short string such as status, restart, frequency")
        module = body.get("module") or "device"
        if not isinstance(module, str) or not MODULE_NAME.match(module):
            raise RegistryError("module must be a module name such as temperature")
        dest = body.get("dest")
        if dest is not None and (not isinstance(dest, str) or not dest or len(dest) > 64):
            raise RegistryError("dest must be a unitID, a MAC or all")
        if dest is None:
            if module == "device":
                dest = device["mac"]
            else:
                unit = next((m.get("unit") for m in device["modules"] if m["module"] == module), None)
                dest = unit_id(device["mac"], unit)
        payload = {"dest": dest, "order": order}
        if body.get("value") is not None:
            payload["value"] = body["value"]
        topic = "%s/%s/command" % (device["topic"], module)
        if not self.collector.publish(topic, json.dumps(payload)):
            return json_error(503, "broker connection down; order not sent")
        return web.json_response({"topic": topic, "payload": payload})

    async def api_logs(self, request):
        return web.json_response(self.registry.logs(request.match_info["mac"]))

    async def api_status(self, request):
        return web.json_response(self.registry.status(request.match_info["mac"]))

    async def api_readings(self, request):
        q = request.query
        unknown = set(q) - {"topic", "unit", "since", "limit", "after"}
        if unknown:
            raise RegistryError("unknown parameter %s (topic, unit, since, limit, after)" % ", ".join(sorted(unknown)))
        since = parse_since(q.get("since"))
        if since is not None and not (math.isfinite(since) and 0 <= since < 1e11):
            raise RegistryError("since must be a time after 1970 and before the year 5000")
        rows = self.registry.readings(topic=text_param(q, "topic"), unit=text_param(q, "unit"), since=since,
                                      limit=int_param(q, "limit", 1, 100000),
                                      after=int_param(q, "after", 0, 2 ** 63 - 1))
        return web.json_response(rows)

    async def api_collector(self, request):
        stats = self.collector.stats()
        stats["stored"] = self.registry.count_readings()
        stats["alerts"] = list(self.alerts)
        stats["live_pages"] = len(self.listeners)
        stats["live_pages_dropped"] = self.sse_dropped
        stats["http"] = {"connections_refused": self.http_guard.refused,
                         "open_by_address": dict(self.http_guard.open.most_common(5))}
        return web.json_response(stats)

    # -- firmware releases (neoc release publish) ----------------------------
    async def api_http(self, request):
        """The processes answering HTTP (--http-processes) and the passwords each handed out."""
        procs = [{"pid": os.getpid(), "role": "server", "passwords": self.passwords_issued}]
        if self.workers is not None:
            procs += [{"pid": pid, "role": "worker", "passwords": self.workers.stats.get(pid, {}).get("passwords", 0)}
                      for pid in self.workers.pids()]
        return web.json_response({"processes": procs, "worker_restarts": self.workers.restarts if self.workers else 0})

    async def api_releases(self, request):
        return web.json_response(self.releases.current())

    async def api_release_file(self, request):
        m = request.match_info
        try:
            target = self.releases.file_target(m["board"], m["revision"], m["path"])
        except ReleaseError as exc:
            return json_error(400, str(exc))
        chunks, size = [], 0
        while True:
            chunk = await read_body(request.content.read(65536), BODY_TIMEOUT)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_FILE:
                return json_error(413, "a release file is at most %d bytes" % MAX_FILE)
            chunks.append(chunk)
        size, sha = self.releases.write(target, chunks)
        return web.json_response({"size": size, "sha256": sha})

    async def api_release_publish(self, request):
        try:
            manifest = await read_body(request.json(), BODY_TIMEOUT)
        except ValueError:
            return json_error(400, "the manifest is not JSON")
        board = request.match_info["board"]
        try:
            doc = self.releases.publish(board, manifest, "%s://%s/images/%s/neOSensor" % (
                request.scheme, request.host, board))
        except ReleaseError as exc:
            return json_error(400, str(exc))
        log.info("release %d published for %s (%d files)", doc["revision"], board, len(doc["files"]))
        return web.json_response(doc)

    # -- live page -----------------------------------------------------------
    VIEWER_COOKIE = "neoc_viewer"

    def _viewer(self, request):
        """Whether the live page may be shown: --public-page, the viewer token (cookie or
        ?token=), or the admin token as a Bearer header."""
        if self.public_page:
            return True
        given = [request.cookies.get(self.VIEWER_COOKIE, ""), request.query.get("token", "")]
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            given.append(header[7:].strip())
        for value in given:
            for secret in (self.viewer_token, self.token):
                if value and hmac.compare_digest(value.encode(), secret.encode()):
                    return True
        return False

    def _viewer_refused(self):
        return web.Response(status=401, content_type="text/plain", text=(
            "the live page needs the viewer token: open /?token=TOKEN with the token in DATA_DIR/viewer-token, "
            "or run neoc server --public-page\n"))

    async def index(self, request):
        if not self._viewer(request):
            return self._viewer_refused()
        token = request.query.get("token")
        if token and not self.public_page:
            # Keep it in a cookie and out of the address bar (and of shared links).
            resp = web.HTTPFound("/")
            resp.set_cookie(self.VIEWER_COOKIE, token, httponly=True, samesite="Strict")
            return resp
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def live_state(self, request):
        if not self._viewer(request):
            return self._viewer_refused()
        devices = []
        for d in self.registry.devices():
            if d["password_pending"]:
                continue  # its MAC is all a claimer needs to take its password first
            st = self.registry.status(d["mac"])["device"] or {}
            devices.append({"mac": d["mac"], "building": d["building"], "room": d["room"], "topic": d["topic"],
                            "kind": d["kind"], "enabled": d["enabled"], "last_seen": d["last_seen"],
                            "status": st.get("status"), "heap": st.get("heap"),
                            "firmware": st.get("firmware"), "readings": d["readings"]})
        counters = self.collector.counters
        return web.json_response({"now": time.time(), "devices": devices,
                                  "sensors": self.registry.latest_per_sensor(),
                                  "collector": {"stored": counters.get("readings", 0),
                                                "rejected": counters.get("invalid", 0),
                                                "connected": self.collector.connected.is_set(),
                                                "store": store_state(self.registry)},
                                  "alerts": list(self.alerts)[-10:]})

    async def live_events(self, request):
        if not self._viewer(request):
            return self._viewer_refused()
        if len(self.listeners) >= MAX_SSE_CLIENTS:
            return web.Response(status=503, headers={"Retry-After": "30"}, content_type="text/plain",
                                text="too many live pages open (%d)\n" % MAX_SSE_CLIENTS)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None:
            # Bounded kernel buffering per page: one that does not read blocks the write soon.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SSE_SOCKET_BUFFER)
        await resp.prepare(request)
        q = asyncio.Queue(maxsize=SSE_QUEUE)
        self.listeners.add(q)
        try:
            await asyncio.wait_for(resp.write(b": connected\n\n"), SSE_WRITE_TIMEOUT)
            while True:
                try:
                    event = await asyncio.wait_for(q.get(), 15)
                except asyncio.TimeoutError:
                    event = b": keepalive\n\n"
                if event is None:
                    break
                data = event if isinstance(event, bytes) else ("data: %s\n\n" % json.dumps(event)).encode()
                # A page that does not read blocks the write once the socket buffers fill: drop it.
                await asyncio.wait_for(resp.write(data), SSE_WRITE_TIMEOUT)
        except asyncio.TimeoutError:
            self.sse_dropped += 1
            if request.transport is not None:
                request.transport.abort()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.listeners.discard(q)
        return resp

    def describe(self):
        scheme = "https" if self.tls else "http"
        lines = ["neoc server: %s on %s://%s:%d" % (scheme.upper(), scheme, self.http_host, self.http_port),
                 "neoc server: MQTT via %s" % self.backend.describe(),
                 "neoc server: data in %s" % self.data_dir.resolve()]
        if self.advertised:
            lines.append("neoc server: devices are sent the broker %s:%d%s"
                         % (self.advertised + (self._advertise_note,)))
        else:
            lines.append("neoc server: no broker advertised%s: devices use their own setting or the campus "
                         "broker" % self._advertise_note)
        if self.workers is not None:
            lines.append("neoc server: HTTP answered by %d processes: this one (pid %d) and workers %s"
                         % (self.http_processes, os.getpid(), ", ".join(map(str, self.workers.pids()))))
        if self.token_path:
            lines.append("neoc server: admin token in %s" % self.token_path.resolve())
        if self.public_page:
            lines.append("neoc server: live page open to anyone who reaches %s://%s:%d/ (--public-page)"
                         % (scheme, self.http_host, self.http_port))
        else:
            lines.append("neoc server: live page at %s://%s:%d/?token=TOKEN, TOKEN in %s"
                         % (scheme, self.http_host, self.http_port, (self.data_dir / "viewer-token").resolve()))
        return "\n".join(lines)


def _check_port_free(host, port):
    """Bind (host, port) without SO_REUSEPORT and let go: the port, picked when 0, or
    OSError when a server holds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:  # worded as asyncio's own bind error, which callers know
            raise OSError(exc.errno, "error while attempting to bind on address %r: %s"
                          % ((host, port), (exc.strerror or str(exc)).lower())) from None
        return s.getsockname()[1]


def _quiet_disconnects(loop, context):
    # amqtt lets a client that hung up before its refusal was written surface as an
    # unhandled OSError in the loop; that is a client leaving, not a server fault.
    exc = context.get("exception")
    if isinstance(exc, (ConnectionError, OSError)) and "client_connected_cb" in context.get("message", ""):
        log.info("client went away during connection handling: %s", exc)
        return
    loop.default_exception_handler(context)


async def serve(stub, stop_event):
    asyncio.get_running_loop().set_exception_handler(_quiet_disconnects)
    try:
        await stub.start()
    except BaseException:
        # Do not leave a started Mosquitto or broker behind a failed start.
        await stub.stop()
        raise
    # What start-up made (amqtt, aiohttp, the registry) lives as long as the server: out of
    # every later full collection, which would walk it again.
    gc.collect()
    gc.freeze()
    print(stub.describe(), flush=True)
    print("neoc server: ready", flush=True)
    try:
        await stop_event.wait()
    finally:
        await stub.stop()
