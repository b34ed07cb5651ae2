"""systemd's notify protocol spoken directly: one datagram to $NOTIFY_SOCKET
per message (READY=1, WATCHDOG=1, STATUS=..., STOPPING=1), no C library.
Outside systemd (no NOTIFY_SOCKET) every call does nothing."""
import os
import socket


class Notifier:
    def __init__(self, environ=os.environ):
        addr = environ.get("NOTIFY_SOCKET")
        if addr and addr[0] == "@":
            addr = "\0" + addr[1:]  # an abstract socket
        self.addr = addr or None
        usec = environ.get("WATCHDOG_USEC", "")
        # Pinged at half the period, as sd_watchdog_enabled(3) advises.
        self.watchdog_period = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else None
        self._sock = None

    def send(self, *fields):
        if not self.addr:
            return False
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            self._sock.sendto("\n".join(fields).encode(), self.addr)
        except OSError:
            return False
        return True

    def ready(self, status=""):
        return self.send("READY=1", "STATUS=" + status) if status else self.send("READY=1")

    def watchdog(self):
        return self.send("WATCHDOG=1")

    def status(self, text):
        return self.send("STATUS=" + text)

    def stopping(self):
        return self.send("STOPPING=1")
