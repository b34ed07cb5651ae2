"""Warnings and errors shipped to sensOCampus's /device/logger (neocampus.
sensocampus.log), rate-limited, from a background thread: logging never
waits on the network, and a broken server costs lost log lines, nothing more."""
import logging
import queue
import threading
import time

from neocampus import sensocampus as sc


class ServerLogHandler(logging.Handler):
    def __init__(self, http, url, login, password, per_minute=10, level=logging.WARNING):
        super().__init__(level)
        self.http, self.url, self.login, self.password = http, url, login, password
        self.per_minute = per_minute
        self.sent = self.skipped = self.failed = 0
        self._q = queue.Queue(maxsize=100)
        self._window = []
        self._thread = threading.Thread(target=self._run, name="logship", daemon=True)
        self._thread.start()

    def emit(self, record):
        now = time.monotonic()
        self._window = [t for t in self._window if now - t < 60]
        if len(self._window) >= self.per_minute:
            self.skipped += 1
            return
        self._window.append(now)
        try:
            self._q.put_nowait(record)
        except queue.Full:
            self.skipped += 1

    def _run(self):
        while True:
            r = self._q.get()
            if r is None:
                return
            try:
                status = sc.log(self.http, self.url, self.login, self.password, r.getMessage()[:2000],
                                r.levelname, r.levelno, r.name, r.module, r.funcName, r.lineno, r.created)
                if status == 200:
                    self.sent += 1
                else:
                    self.failed += 1
            except Exception:  # the network, the server: never the agent's problem
                self.failed += 1

    def close(self):
        try:
            self._q.put_nowait(None)
        except queue.Full:
            pass
        super().close()
