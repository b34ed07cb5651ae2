"""The Mosquitto brokers of a simulated campus, run beside a stub started with
`--broker external` (the stub writes the password and ACL files, we run and
reload the brokers, as a campus's own service manager would).

- flat: one Mosquitto, the stub's collector and every device on it;
- bridged: one Mosquitto per building, its devices on it (the stub's password
  and ACL files), each bridged with Mosquitto's own bridge configuration to a
  core Mosquitto that the collector reads: readings go out to the core at
  QoS 1 (a persistent bridge session, so the building queues them while the
  core is away), orders come in.

Every broker persists its sessions (`persistence true`): an outage is a real
stop (SIGTERM: the database saved) and start on the same files, and the
collector's session, with what was queued for it, comes back.
"""
import os
import pathlib
import signal
import subprocess
import threading
import time

from provisioning import acl, passwords
from provisioning.mosquitto import MosquittoError, find, free_port, wait_port

RELOAD_POLL = 0.02  # s between looks at the stub's files (the stub allows 0.2 s: EXTERNAL_SETTLE)
# Mosquitto loses a SIGHUP that arrives while it is reloading (its flag is cleared
# after the reload): in a boot storm the last files written were then never read and
# the last devices stayed "not authorized". One more SIGHUP once the files are quiet.
TRAILING_RELOAD = 0.3
# As the stub's own Mosquitto (provisioning/broker.py): the collector may lag a burst.
COMMON = ["max_queued_messages 100000", "queue_qos0_messages true", "message_size_limit 16384",
          "max_inflight_messages 1000", "autosave_interval 1"]


class Broker:
    """One Mosquitto process from a config we write; start/stop on the same files."""

    def __init__(self, name, workdir, lines, host="127.0.0.1", port=None):
        self.name = name
        self.workdir = pathlib.Path(workdir)
        self.host = host
        self.port = port or free_port(host)
        self.lines = lines
        self.proc = None
        self.conf = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"

    def write(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        head = ["user root"] if os.geteuid() == 0 else []
        self.conf.write_text("\n".join(head + [
            "per_listener_settings false", "allow_anonymous false",
            "log_dest file %s" % self.log_path, "log_type error", "log_type warning", "log_type notice",
            "connection_messages true",
            "persistence true", "persistence_location %s/" % self.workdir, "persistence_file mosquitto.db",
        ] + COMMON + self.lines + [
            "listener %d %s" % (self.port, self.host), "use_username_as_clientid true"]) + "\n")

    def start(self, timeout=10.0):
        exe = find("mosquitto")
        if exe is None:
            raise MosquittoError("mosquitto not found: apt-get install mosquitto")
        self.write()
        self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        if not wait_port(self.host, self.port, timeout, self.proc):
            self.stop()
            raise MosquittoError("Mosquitto %s did not listen on %s:%d:\n%s" % (
                self.name, self.host, self.port, self.log()[-2000:]))
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def reload(self):
        if self.running():
            self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()  # SIGTERM: Mosquitto saves its database and goes
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Topology:
    """flat or bridged brokers for `buildings`, reading the stub's files in
    stub_dir/mosquitto (passwd, acl); collector_hash: the stub collector's
    broker hash line (user:hash) for the core of a bridged campus."""

    def __init__(self, kind, workdir, stub_dir, buildings=(), host="127.0.0.1"):
        if kind not in ("flat", "bridged"):
            raise ValueError("topology: flat or bridged")
        self.kind = kind
        self.workdir = pathlib.Path(workdir)
        self.files = pathlib.Path(stub_dir) / "mosquitto"
        self.host = host
        shared = ["password_file %s" % (self.files / "passwd"), "acl_file %s" % (self.files / "acl")]
        self.buildings = {}
        if kind == "flat":
            self.core = Broker("campus", self.workdir / "campus", shared, host)
            self.edge = [self.core]
            return
        core_dir = self.workdir / "core"
        self.core = Broker("core", core_dir, ["password_file %s" % (core_dir / "passwd"),
                                              "acl_file %s" % (core_dir / "acl")], host)
        self._bridges = {}
        for b in buildings:
            user, password = "neoc_bridge_%s" % acl.sanitize(b), passwords.new_password()
            self._bridges[b] = (user, password)
            self.buildings[b] = Broker("building %s" % b, self.workdir / ("building-" + acl.sanitize(b)), shared + [
                "connection core_%s" % acl.sanitize(b),
                "address %s:%d" % (host, self.core.port),
                "remote_username %s" % user, "remote_password %s" % password, "remote_clientid %s" % user,
                "bridge_protocol_version mqttv311", "cleansession false", "try_private true",
                "notifications false", "restart_timeout 1 5",
                "topic +/+/+ out 1", "topic +/+/+/command in 1"], host)
        self.edge = list(self.buildings.values())

    @property
    def collector_port(self):
        return self.core.port

    def port_of(self, building):
        """The broker a device of `building` is sent to."""
        return self.buildings[building].port if self.kind == "bridged" else self.core.port

    def _core_files(self):
        """The core's own accounts: the stub's collector and observer (their hashes as
        the stub wrote them) and one per bridge; the bridges publish readings and
        receive orders."""
        core_dir = self.core.workdir
        core_dir.mkdir(parents=True, exist_ok=True)
        own = [line for line in (self.files / "passwd").read_text().splitlines()
               if line.split(":", 1)[0] in (acl.COLLECTOR_USER, acl.OBSERVER_USER)]
        lines = own + ["%s:%s" % (user, passwords.mosquitto_hash(pw)) for user, pw in self._bridges.values()]
        (core_dir / "passwd").write_text("\n".join(lines) + "\n")
        os.chmod(core_dir / "passwd", 0o600)
        rules = acl.collector_rules(acl.COLLECTOR_USER) + acl.collector_rules(acl.OBSERVER_USER)
        for user, _ in self._bridges.values():
            rules += [(user, "write", "+/+/+"), (user, "read", "+/+/+/command")]
        (core_dir / "acl").write_text(acl.to_mosquitto_acl(rules).render())

    def start(self):
        if not (self.files / "passwd").exists():
            raise MosquittoError("the stub wrote no broker files in %s (is it run with --broker external?)"
                                 % self.files)
        if self.kind == "bridged":
            self._core_files()
        self.core.start()
        for b in self.buildings.values():
            b.start()
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._follow_files, name="broker-files", daemon=True)
        self._watch.start()
        return self

    def _follow_files(self):
        """SIGHUP the brokers that read the stub's files whenever it rewrites them (a
        device claimed its password, was disabled...), as a path unit would."""
        files = [self.files / "passwd", self.files / "acl"]

        def stamp():
            # The inode too: the stub replaces each file whole (a new inode each time),
            # and two writes within one tick of the kernel's coarse clock share an mtime.
            try:
                return tuple((st.st_ino, st.st_mtime_ns, st.st_size) for st in (f.stat() for f in files))
            except OSError:
                return None
        seen = stamp()
        trailing = None  # when to send the one more SIGHUP that follows a burst of changes
        while not self._stop.wait(RELOAD_POLL):
            now = stamp()
            if now != seen:
                seen = now
                trailing = time.monotonic() + TRAILING_RELOAD
                for b in self.edge:
                    b.reload()
            elif trailing is not None and time.monotonic() >= trailing:
                trailing = None
                for b in self.edge:
                    b.reload()

    def outage(self, seconds, on_change=None):
        """Stop the broker the collector reads (the campus's one, or the core) for
        `seconds`, then start it again on its files."""
        self.core.stop()
        if on_change:
            on_change("down")
        time.sleep(seconds)
        self.core.start()
        if on_change:
            on_change("up")

    def stop(self):
        if getattr(self, "_stop", None) is not None:
            self._stop.set()
        for b in list(self.buildings.values()) + [self.core]:
            b.stop()

    def describe(self):
        if self.kind == "flat":
            return "one Mosquitto on %s:%d" % (self.host, self.core.port)
        return "core Mosquitto on %s:%d, %d building Mosquittos bridged to it (%s)" % (
            self.host, self.core.port, len(self.buildings),
            ", ".join("%s :%d" % (n, b.port) for n, b in self.buildings.items()))
