"""Drive a real Mosquitto 2.x: config, password file, ACL file, start, reload.

Shared by `neoc server --broker mosquitto|external` and the test fixtures, so
the rules the tests check are the rules the stub deploys.
"""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

from toolchain.ports import free_port  # noqa: F401 (the stub and the tests take it from here)

SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def find(cmd):
    return shutil.which(cmd) or shutil.which(cmd, path=os.pathsep.join(SBIN))


def wait_port(host, port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _replace(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class Acl:
    """Mosquitto ACL rules: `access` is read, write or readwrite (read covers subscribe)."""

    def __init__(self):
        self.rules = {}  # user -> [(access, pattern)]

    def allow(self, user, access, pattern):
        if access not in ("read", "write", "readwrite"):
            raise ValueError("access must be read, write or readwrite")
        self.rules.setdefault(user, []).append((access, pattern))
        return self

    def render(self):
        out = []
        for user, rules in self.rules.items():
            out.append("user %s" % user)
            out.extend("topic %s %s" % rule for rule in rules)
            out.append("")
        return "\n".join(out)


class MosquittoError(RuntimeError):
    pass


class Mosquitto:
    """One Mosquitto process on loopback, configured from files in `workdir`.

    users: {login: password} (hashed into the password file by mosquitto_passwd).
    hashed_users: {login: hash line body} already in Mosquitto's format (the
    stub stores only hashes and regenerates the file from them).
    extra: further mosquitto.conf lines (global options such as max_queued_messages).
    tls: None or (cafile, certfile, keyfile) for a second listener on `tls_port`.
    listener_options: lines written under every listener (use_username_as_clientid:
    a listener option that, written before any listener, makes Mosquitto open its
    default one on 1883 as well).
    persistent: keep sessions and queued messages in `workdir/mosquitto.db`,
    saved every `autosave` seconds and on shutdown, and take over from a
    Mosquitto of the same workdir left running (its pid file) by a killed parent.
    """

    def __init__(self, workdir, host="127.0.0.1", port=None, users=None, acl=None,
                 tls=None, tls_port=None, hashed_users=None, extra=(), persistent=False, autosave=1,
                 listener_options=()):
        self.workdir = pathlib.Path(workdir)
        self.host = host
        self.port = port or free_port(host)
        self.tls = tls
        self.tls_port = (tls_port or free_port(host)) if tls else None
        self.users = dict(users or {})
        self.hashed_users = dict(hashed_users or {})
        self.extra = list(extra)
        self.acl = acl or Acl()
        self.proc = None
        self.conf_path = self.workdir / "mosquitto.conf"
        self.passwd_path = self.workdir / "passwd"
        self.acl_path = self.workdir / "acl"
        self.log_path = self.workdir / "mosquitto.log"
        self.pid_path = self.workdir / "mosquitto.pid"
        self.persistent = persistent
        self.listener_options = list(listener_options)
        self.autosave = autosave

    # -- files -------------------------------------------------------------
    def write_files(self):
        """Each file replaced whole (a temp file renamed over it): a broker reloading
        meanwhile (an external one, on a path unit) reads the old file or the new one,
        never half of one; a device's ACL lines go in before its password."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        _replace(self.acl_path, self.acl.render())
        self._write_passwd()
        lines = [
            "per_listener_settings false",
            "allow_anonymous false",
            "password_file %s" % self.passwd_path,
            "acl_file %s" % self.acl_path,
            "log_dest file %s" % self.log_path,
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
        ] + self._persistence() + self.extra + [
            "listener %d %s" % (self.port, self.host),
        ] + self.listener_options
        if os.geteuid() == 0:
            # As root Mosquitto drops to the `mosquitto` user, which cannot read
            # files in a private temp dir; stay root instead.
            lines.insert(0, "user root")
        if self.tls:
            cafile, certfile, keyfile = self.tls
            lines += ["listener %d %s" % (self.tls_port, self.host)] + self.listener_options + [
                      "cafile %s" % cafile, "certfile %s" % certfile, "keyfile %s" % keyfile]
        _replace(self.conf_path, "\n".join(lines) + "\n")

    def _persistence(self):
        if not self.persistent:
            return ["persistence false"]
        # The trailing slash matters: Mosquitto joins location and file name as strings.
        return ["persistence true", "persistence_location %s/" % self.workdir, "persistence_file mosquitto.db",
                "autosave_interval %d" % self.autosave, "pid_file %s" % self.pid_path]

    def _stop_leftover(self, timeout=10.0):
        """A Mosquitto of this workdir whose parent was killed still runs (and holds the
        port and the queued messages): SIGTERM makes it save its database and go."""
        try:
            pid = int(self.pid_path.read_text().split()[0])
            cmdline = pathlib.Path("/proc/%d/cmdline" % pid).read_bytes()
        except (OSError, ValueError, IndexError):
            return
        if str(self.conf_path).encode() not in cmdline:
            return  # the pid was reused by something else
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pathlib.Path("/proc/%d" % pid).exists():
            try:
                if pathlib.Path("/proc/%d/stat" % pid).read_text().split(") ")[1][0] == "Z":
                    break  # exited, its parent (the killed one) gone: a zombie until reaped
            except (OSError, IndexError):
                break
            time.sleep(0.05)
        else:
            if pathlib.Path("/proc/%d" % pid).exists():
                os.kill(pid, signal.SIGKILL)

    def _write_passwd(self):
        for login in list(self.users) + list(self.hashed_users):
            if ":" in login or not login or "\n" in login:
                raise ValueError("bad broker login %r" % login)
        tmp = self.passwd_path.with_suffix(".tmp")
        tmp.write_text("".join("%s:%s\n" % item for item in self.users.items()))
        os.chmod(tmp, 0o600)
        if self.users:
            tool = find("mosquitto_passwd")
            if tool is None:
                raise MosquittoError("mosquitto_passwd not found: apt-get install mosquitto")
            # -U hashes a plain-text file in place: one process for all users.
            subprocess.run([tool, "-U", str(tmp)], check=True, capture_output=True)
        if self.hashed_users:
            with open(tmp, "a") as f:
                f.write("".join("%s:%s\n" % item for item in self.hashed_users.items()))
        os.replace(tmp, self.passwd_path)

    # -- process -----------------------------------------------------------
    def start(self, timeout=10.0):
        exe = find("mosquitto")
        if exe is None:
            raise MosquittoError("mosquitto not found: apt-get install mosquitto")
        if self.persistent:
            self._stop_leftover()
        self.write_files()
        self.proc = subprocess.Popen([exe, "-c", str(self.conf_path)], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        ports = [self.port] + ([self.tls_port] if self.tls else [])
        for port in ports:
            if not wait_port(self.host, port, timeout, self.proc):
                self.stop()
                raise MosquittoError("mosquitto did not listen on %s:%d\n%s" % (self.host, port, self.log()))
        return self

    def reload(self):
        """Rewrite password and ACL files and make the running broker read them."""
        self.write_files()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = self.proc.stdout.read() if self.proc.stdout else ""
        self._stdout = out
        self.proc = None

    def log(self):
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text + getattr(self, "_stdout", "")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
