"""Broker back-ends of the stub, all fed by one `Policy` built from the registry.

- embedded: an amqtt broker in the server's event loop; its auth and topic
  plugins ask the live Policy, so a change is in force at the next packet.
- mosquitto: a Mosquitto the stub starts itself; every change rewrites the
  password and ACL files and sends SIGHUP.
- external: the same files are written into the data directory for a broker
  someone else runs (and reloads); the stub only connects to it.
"""
import asyncio
import collections
import dataclasses
import logging
import re
import signal
from typing import Any

from provisioning import acl, passwords
from provisioning.collector import MAX_PAYLOAD
from provisioning.mosquitto import Mosquitto
from provisioning.receiver import RECEIVE_MAXIMUM

TRAILING_RELOAD = 0.3  # s after the last reload of a burst, one more SIGHUP
from provisioning.ratelimit import FailureLimit

log = logging.getLogger("neoc.broker")


class Policy:
    """Current broker users (login -> Mosquitto-format hash) and ACL rules per user.

    Updated per device as the registry changes, so a boot storm of credential
    calls costs one row read each, not a rebuild of everything."""

    def __init__(self, collector_user, collector_password, observer_password=None):
        self.collector_user = collector_user
        # The stub's own accounts: login -> (hash, rules); the observer reads as the collector does.
        self.own = {collector_user: (passwords.mosquitto_hash(collector_password),
                                     acl.collector_rules(collector_user))}
        if observer_password:
            self.own[acl.OBSERVER_USER] = (passwords.mosquitto_hash(observer_password),
                                           acl.collector_rules(acl.OBSERVER_USER))
        self._own_only()
        self.version = 0

    def _own_only(self):
        self.users = {user: h for user, (h, _) in self.own.items()}
        self.rules_by_user = {user: list(r) for user, (_, r) in self.own.items()}

    def refresh_all(self, registry):
        self._own_only()
        for login in registry.logins():
            self._load(registry, login)
        self.version += 1

    def update(self, registry, login):
        self._load(registry, login)
        self.version += 1

    def _load(self, registry, login):
        self.users.pop(login, None)
        self.rules_by_user.pop(login, None)
        row = registry.broker_account(login)
        if row is None:
            return
        location, enabled, broker_hash, rooms = row
        if enabled and broker_hash:
            self.users[login] = broker_hash
        self.rules_by_user[login] = acl.account_rules(login, location, enabled, rooms)

    def flat_rules(self):
        return [r for rules in self.rules_by_user.values() for r in rules]

    def authenticate(self, username, password):
        # One hash check whether the login exists or not: same work, same answer.
        stored = self.users.get(username) if isinstance(username, str) else None
        ok = passwords.mosquitto_verify(password if isinstance(password, str) else "",
                                        stored or passwords.DUMMY_MOSQUITTO_HASH)
        return bool(stored) and ok

    def allowed(self, username, action, topic):
        return acl.allowed(self.rules_by_user.get(username, ()), username, action, topic)

    def connect_refusal(self, username, password, client_id):
        """None when a CONNECT may go on, else the MQTT 3.1.1 CONNACK code refusing it."""
        if not self.authenticate(username, password):
            return 4  # bad user name or password
        if not acl.client_id_allowed(username, client_id):
            return 2  # identifier rejected: that client id belongs to another login
        return None


# -- embedded (amqtt) ---------------------------------------------------------
try:
    from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
except ImportError:  # the `broker` extra is not installed
    BaseAuthPlugin = BaseTopicPlugin = None


if BaseAuthPlugin is not None:
    class PolicyAuthPlugin(BaseAuthPlugin):
        """Checks CONNECT against the registry's hashes; anonymous is refused."""

        @dataclasses.dataclass
        class Config:
            policy: Any = None

        async def authenticate(self, *, session):
            ok = self.config.policy.authenticate(session.username, session.password)
            if not ok:
                log.info("embedded broker refused login %r", _shown(session.username))
            return ok

    class PolicyTopicPlugin(BaseTopicPlugin):
        """Checks every publish, subscribe and delivery against the shared ACL rules."""

        @dataclasses.dataclass
        class Config:
            policy: Any = None

        async def topic_filtering(self, *, session=None, topic=None, action=None):
            user = session.username if session else None
            ok = self.config.policy.allowed(user, str(action), topic)
            if not ok and str(action) != "receive":
                log.info("embedded broker denied %s %s to %r", action, _shown(topic), _shown(user))
            return ok


if BaseAuthPlugin is not None:
    from amqtt.adapters import ReaderAdapter
    from amqtt.broker import Broker as _AmqttBroker
    from amqtt.mqtt.connack import ConnackPacket
    from amqtt.mqtt.connect import ConnectPacket

    class _Replay(ReaderAdapter):
        """Records what is read until rewind(), then serves it again before the socket."""

        def __init__(self, inner):
            self.inner = inner
            self.recorded = bytearray()
            self.pending = b""
            self.recording = True

        async def read(self, n=-1):
            if self.pending:
                take = len(self.pending) if n == -1 else min(n, len(self.pending))
                data, self.pending = self.pending[:take], self.pending[take:]
                if n == -1:
                    return data + await self.inner.read(-1)
                if take < n:
                    data += await self.inner.read(n - take)
                return data
            data = await self.inner.read(n)
            if self.recording:
                self.recorded += data
            return data

        def feed_eof(self):
            self.inner.feed_eof()

        def rewind(self):
            self.recording = False
            self.pending = bytes(self.recorded)

    class GuardedBroker(_AmqttBroker):
        """amqtt 0.12 deletes or takes over the session of the client id a CONNECT
        names before it authenticates, so one unauthenticated CONNECT with the
        collector's id stopped collection. The CONNECT is checked here first (login,
        password, client id of that login); only then does amqtt see it."""

        def __init__(self, config, policy, counters):
            super().__init__(config)
            self._policy = policy
            self._refusals = counters
            # Password guessing over MQTT is limited as over HTTP: per login and per address.
            self._login_failures = FailureLimit(CONNECT_FAILURES_PER_LOGIN, CONNECT_WINDOW)
            self._address_failures = FailureLimit(CONNECT_FAILURES_PER_ADDRESS, CONNECT_WINDOW)

        async def _client_connected(self, listener_name, reader, writer):
            replay = _Replay(reader)
            try:
                connect = await asyncio.wait_for(ConnectPacket.from_stream(replay), CONNECT_TIMEOUT)
                username, password, client_id = connect.username, connect.password, connect.client_id
            except Exception as exc:  # garbage, a slow client or one that left: nothing to serve
                log.info("embedded broker: no valid CONNECT (%s)", type(exc).__name__)
                await _close(writer)
                return
            peer = writer.get_peer_info()
            address = peer[0] if peer else None
            if self._login_failures.retry_after(username) or self._address_failures.retry_after(address):
                code = 5  # not authorised: too many failed logins lately
                self._refusals["refused: too many failed logins"] += 1
            else:
                code = self._policy.connect_refusal(username, password, client_id)
                if code == 4:
                    self._login_failures.failed(username)
                    self._address_failures.failed(address)
                if code is not None:
                    self._refusals["refused: bad login" if code == 4 else "refused: client id of another login"] += 1
            if code is not None:
                log.info("embedded broker refused CONNECT of %r as client id %r (code %d)",
                         _shown(username), _shown(client_id), code)
                try:
                    writer.write(ConnackPacket.build(0, code).to_bytes())
                    await writer.drain()
                except Exception:
                    pass
                await _close(writer)
                return
            replay.rewind()
            await super()._client_connected(listener_name, replay, writer)

        async def _handle_message_delivery(self, client_session, handler, wait_deliver):
            # amqtt stops reading a session that published on a `$` or wildcard topic
            # while its client goes on publishing into the void: drop the one message,
            # count it, keep the session. A control character in a topic is refused too.
            message = wait_deliver.result()
            topic = getattr(message, "topic", None) or ""
            if topic and (topic.startswith("$") or "#" in topic or "+" in topic or _CONTROL.search(topic)):
                user = getattr(client_session, "username", None)
                self._refusals["refused: publish on a reserved or malformed topic"] += 1
                log.info("embedded broker refused a publish of %r on %s", _shown(user), _shown(topic))
                return True
            return await super()._handle_message_delivery(client_session, handler, wait_deliver)


CONNECT_TIMEOUT = 10.0  # s a client has to send its CONNECT
CONNECT_WINDOW = 60.0
CONNECT_FAILURES_PER_LOGIN = 10
CONNECT_FAILURES_PER_ADDRESS = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _shown(text):
    # What a client sent goes into the server log escaped: no forged lines.
    return str(text)[:120].encode("unicode_escape").decode("ascii")


async def _close(writer):
    try:
        await writer.close()
    except Exception:  # already gone
        pass


class EmbeddedBroker:
    def __init__(self, policy, host, port):
        self.policy, self.host, self.port = policy, host, port
        self.broker = None
        self.counters = collections.Counter()

    async def start(self):
        if BaseAuthPlugin is None:
            raise RuntimeError("the embedded broker needs amqtt: pip install 'neocampus-devkit[broker]'")
        config = {
            "listeners": {"default": {"type": "tcp", "bind": "%s:%d" % (self.host, self.port),
                                      "max_connections": 0}},
            "plugins": {
                "provisioning.broker.PolicyAuthPlugin": {"policy": self.policy},
                "provisioning.broker.PolicyTopicPlugin": {"policy": self.policy},
            },
        }
        self.broker = GuardedBroker(config, self.policy, self.counters)
        await self.broker.start()

    def changed(self, login=None):
        # Rules are read live; sessions of an account that went away (disabled,
        # reset, deleted) are cut now. Called by the server after each Policy update.
        if self.broker is None or (login is not None and login in self.policy.users):
            return
        for client_id, (session, handler) in list(self.broker._sessions.items()):
            user = getattr(session, "username", None)
            if user and (login is None or user == login) and user not in self.policy.users and handler is not None:
                asyncio.get_running_loop().create_task(self._drop(handler, user))

    async def _drop(self, handler, user):
        try:
            await handler.stop()
            log.info("embedded broker disconnected %s (account changed)", user)
        except Exception:  # a half-closed session is the broker's business
            log.debug("stopping session of %s failed", user, exc_info=True)

    async def stop(self):
        if self.broker is not None:
            await self.broker.shutdown()
            self.broker = None

    def describe(self):
        return "embedded amqtt broker on %s:%d" % (self.host, self.port)


# -- Mosquitto (managed or external) ------------------------------------------
class MosquittoBroker:
    def __init__(self, policy, workdir, host, port, managed=True):
        self.policy = policy
        self.managed = managed
        # Mosquitto drops messages for a subscriber with more than 1000 queued by
        # default; the collector may lag behind a burst, or wait for a full disk to
        # be freed, so allow more. Persistence keeps the collector's session (and
        # what is queued for it) across a restart of either process. A client id is
        # replaced by the login, so that nobody can take over another's session.
        # QoS 0 readings are queued for the collector's session too while it is away
        # (a stub restarting): devices publish at QoS 0 by default.
        self.mosquitto = Mosquitto(workdir, host=host, port=port, persistent=managed,
                                   extra=["max_queued_messages 100000", "queue_qos0_messages true",
                                          # QoS 1 messages in flight to a 3.1.1 session (the collector's,
                                          # acknowledged after their commit: a batch at a time).
                                          "max_inflight_messages %d" % RECEIVE_MAXIMUM,
                                          # The collector refuses larger payloads anyway.
                                          "message_size_limit %d" % MAX_PAYLOAD],
                                   listener_options=["use_username_as_clientid true"])
        self.host, self.port = host, port
        self._watchdog = None
        self._trailing = None  # the SIGHUP that follows a burst of reloads

    def _sync(self):
        self.mosquitto.hashed_users = dict(self.policy.users)
        self.mosquitto.acl = acl.to_mosquitto_acl(self.policy.flat_rules())

    async def start(self):
        self._sync()
        if self.managed:
            await asyncio.get_running_loop().run_in_executor(None, self.mosquitto.start)
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())
        else:
            self.mosquitto.write_files()

    async def _watch(self, period=1.0):
        """Restart a Mosquitto that died: devices reconnect by themselves, the stub stays up."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(period)
            proc = self.mosquitto.proc
            if proc is None or proc.poll() is None:
                continue
            log.error("Mosquitto exited with %s; restarting it. Its log ends with:\n%s",
                      proc.returncode, self.mosquitto.log()[-2000:])
            self.mosquitto.proc = None
            try:
                self._sync()
                await loop.run_in_executor(None, self.mosquitto.start)
            except Exception:
                log.exception("restarting Mosquitto failed; next try in %.0f s", period * 5)
                await asyncio.sleep(period * 5)

    def save(self):
        """Make Mosquitto write its database now (SIGUSR1): called once the collector's
        session and subscription exist, so that a Mosquitto killed before its first
        autosave comes back with them and queues readings for the collector."""
        proc = self.mosquitto.proc
        if self.managed and proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGUSR1)

    def changed(self, login=None):
        self._sync()
        if self.managed:
            self.mosquitto.reload()
            # Mosquitto loses a SIGHUP that arrives while it reloads (it clears its flag
            # after the reload): after a burst of changes (a boot storm) the last files
            # would stay unread and the last devices refused. One more SIGHUP once quiet.
            if self._trailing is not None:
                self._trailing.cancel()
            self._trailing = asyncio.get_running_loop().call_later(TRAILING_RELOAD, self._reload_again)
        else:
            # Someone else runs the broker: they reload it (e.g. a path unit on the files).
            self.mosquitto.write_files()

    def _reload_again(self):
        self._trailing = None
        proc = self.mosquitto.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGHUP)

    async def stop(self):
        if self._trailing is not None:
            self._trailing.cancel()
            self._trailing = None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self.managed:
            await asyncio.get_running_loop().run_in_executor(None, self.mosquitto.stop)

    def log(self):
        return self.mosquitto.log()

    def describe(self):
        files = "config %s, passwords %s, ACL %s" % (self.mosquitto.conf_path, self.mosquitto.passwd_path,
                                                       self.mosquitto.acl_path)
        if self.managed:
            return "Mosquitto on %s:%d (%s)" % (self.host, self.port, files)
        return "external broker at %s:%d; wrote %s" % (self.host, self.port, files)
