"""What the agent's loop sleeps on: a self-pipe that any thread (or a signal
handler) sets, and file descriptors served on the loop's own thread (serial
lines, the MQTT socket), in one select() with the loop's timeout.

    w = Wakeup()
    w.add(fd, on_readable)     # on_readable() runs in wait(), on the loop's thread
    w.want_write(fd, on_writable)   # while output waits; want_write(fd, None) when it has gone
    w.set()                    # from a Modbus thread, a GPIO edge, a signal
    w.wait(0.5)                # returns at once if set() came since the last wait

wait() says whether the loop has a turn to take: a callback that returns
False (a PUBACK read, nothing to do until the next turn) does not ask for
one, and the loop sleeps on; a set(), a timeout or any other callback does.

Never closed: a thread that outlives the agent may still call set(), and a
closed pipe's number, reused by another file, would get its byte.

A serial line read here costs the loop one wake-up per reading; read by a
thread of its own it cost that thread's wake-up, a queue and the loop's
wake-up (bench/agent.py measured the difference).
"""
import os
import selectors

_R, _W = selectors.EVENT_READ, selectors.EVENT_WRITE


def _fd(f):
    """The number, for a number or a file object (a socket): the selector's keys say fd numbers."""
    return f if isinstance(f, int) else f.fileno()


class Wakeup:
    def __init__(self):
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._set = False
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._r, _R, None)
        self._writers = {}

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
        self._sel.register(fd, _R, on_readable)

    def remove(self, fd):
        self._writers.pop(_fd(fd), None)
        try:
            self._sel.unregister(fd)
        except (KeyError, ValueError):
            pass

    def want_write(self, fd, on_writable):
        """Call on_writable() in wait() once `fd` takes more bytes; None: stop asking."""
        fd = _fd(fd)
        if (self._writers.get(fd) is None) == (on_writable is None):
            self._writers[fd] = on_writable
            return
        key = self._sel.get_key(fd)
        if on_writable is None:
            self._writers.pop(fd, None)
            self._sel.modify(fd, _R, key.data)
        else:
            self._writers[fd] = on_writable
            self._sel.modify(fd, _R | _W, key.data)

    def wait(self, timeout):
        """Sleep up to `timeout` s, until set() or a file descriptor added is
        ready (its callback is run here); True when the loop has a turn to take."""
        ready = self._sel.select(timeout)
        turn = not ready
        for key, mask in ready:
            if key.data is None:
                try:
                    while os.read(self._r, 256):
                        pass
                except BlockingIOError:
                    pass
                # Cleared after the pipe is emptied: a set() in between writes
                # nothing, but the turn that follows this wait does its work.
                self._set = False
                turn = True
                continue
            if mask & _W:
                writer = self._writers.get(key.fd)
                if writer is not None:
                    writer()
                if key.fd not in self._sel.get_map():
                    turn = True  # the write failed and closed it: the loop sees to it
                    continue
            if mask & _R and key.data() is not False:
                turn = True
        return turn
