"""Broker back-ends of the stub, all fed by one `Policy` built from the registry.

- embedded: an amqtt broker in the server's event loop; its auth and topic
  plugins ask the live Policy, so a change is in force at the next packet.
- mosquitto: a Mosquitto the stub starts itself; every change rewrites the
  password and ACL files and sends SIGHUP.
- external: the same files are written into the data directory for a broker
  someone else runs (and reloads); the stub only connects to it.
"""
import asyncio
import dataclasses
import logging
from typing import Any

from provisioning import acl, passwords
from provisioning.mosquitto import Mosquitto

log = logging.getLogger("neoc.broker")


class Policy:
    """Current broker users (login -> Mosquitto-format hash) and ACL rules per user.

    Updated per device as the registry changes, so a boot storm of credential
    calls costs one row read each, not a rebuild of everything."""

    def __init__(self, collector_user, collector_password):
        self.collector_user = collector_user
        self.collector_hash = passwords.mosquitto_hash(collector_password)
        self.users = {collector_user: self.collector_hash}
        self.rules_by_user = {collector_user: acl.collector_rules(collector_user)}
        self.version = 0

    def refresh_all(self, registry):
        self.users = {self.collector_user: self.collector_hash}
        self.rules_by_user = {self.collector_user: acl.collector_rules(self.collector_user)}
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
        stored = self.users.get(username) if username else None
        return bool(stored) and passwords.mosquitto_verify(password or "", stored)

    def allowed(self, username, action, topic):
        return acl.allowed(self.rules_by_user.get(username, ()), username, action, topic)


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
                log.info("embedded broker refused login %r", session.username)
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
                log.info("embedded broker denied %s %s to %r", action, topic, user)
            return ok


class EmbeddedBroker:
    def __init__(self, policy, host, port):
        self.policy, self.host, self.port = policy, host, port
        self.broker = None

    async def start(self):
        if BaseAuthPlugin is None:
            raise RuntimeError("the embedded broker needs amqtt: pip install 'neocampus-devkit[broker]'")
        from amqtt.broker import Broker
        config = {
            "listeners": {"default": {"type": "tcp", "bind": "%s:%d" % (self.host, self.port),
                                      "max_connections": 0}},
            "plugins": {
                "provisioning.broker.PolicyAuthPlugin": {"policy": self.policy},
                "provisioning.broker.PolicyTopicPlugin": {"policy": self.policy},
            },
        }
        self.broker = Broker(config)
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
        # default; the collector may lag behind a burst for a moment, so allow more.
        self.mosquitto = Mosquitto(workdir, host=host, port=port, extra=["max_queued_messages 100000"])
        self.host, self.port = host, port
        self._watchdog = None

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

    def changed(self, login=None):
        self._sync()
        if self.managed:
            self.mosquitto.reload()
        else:
            # Someone else runs the broker: they reload it (e.g. a path unit on the files).
            self.mosquitto.write_files()

    async def stop(self):
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
