"""What the agent's loop sleeps on: a self-pipe that any thread (or a signal
handler) sets, and file descriptors read on the loop's own thread (serial
lines), in one select() with the loop's timeout.

    w = Wakeup()
    w.add(fd, on_readable)     # on_readable() runs in wait(), on the loop's thread
    w.set()                    # from paho's thread, a Modbus thread, a GPIO edge, a signal
    w.wait(0.5)                # returns at once if set() came since the last wait

Never closed: a thread that outlives the agent may still call set(), and a
closed pipe's number, reused by another file, would get its byte.

A serial line read here costs the loop one wake-up per reading; read by a
thread of its own it cost that thread's wake-up, a queue and the loop's
wake-up (bench/agent.py measured the difference).
"""
import os
import selectors


class Wakeup:
    def __init__(self):
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._set = False
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._r, selectors.EVENT_READ, None)

    def set(self):
        """Wake the loop. No lock: safe from any thread and from a signal handler."""
        if not self._set:
            self._set = True
            try:
                os.write(self._w, b"!")
            except (BlockingIOError, OSError):
                pass  # the pipe is full (it is set already) or closed (the agent stopped)

    def is_set(self):
        return self._set

    def add(self, fd, on_readable):
        self._sel.register(fd, selectors.EVENT_READ, on_readable)

    def remove(self, fd):
        try:
            self._sel.unregister(fd)
        except (KeyError, ValueError):
            pass

    def wait(self, timeout):
        """Sleep up to `timeout` s, until set() or a file descriptor added is
        readable (its callback is run here)."""
        for key, _ in self._sel.select(timeout):
            if key.data is None:
                try:
                    while os.read(self._r, 256):
                        pass
                except BlockingIOError:
                    pass
                # Cleared after the pipe is emptied: a set() in between writes
                # nothing, but the turn that follows this wait does its work.
                self._set = False
            else:
                key.data()
