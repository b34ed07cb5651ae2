"""The demo's parts and its process tree: each part is stopped in the reverse
order it started, whatever happened; then nothing of ours may remain.

`leftovers()` looks for processes descended from this one (a Mosquitto whose
stub was killed, a VM whose runner thread died) and `reap()` ends them, so
that a demo stopped by Ctrl-C, SIGTERM or a failed step leaves no orphan.
"""
import os
import pathlib
import signal
import time


class StepFailed(Exception):
    """A step of the demo that could not be done: `step` says which, the text why."""

    def __init__(self, step, reason):
        super().__init__("%s: %s" % (step, reason))
        self.step = step
        self.reason = reason


class Parts:
    """What was started, with how to stop it."""

    def __init__(self, say=print):
        self.say = say
        self._stops = []  # (name, stop callable)

    def add(self, name, stop):
        self._stops.append((name, stop))

    def stop_all(self):
        errors = []
        while self._stops:
            name, stop = self._stops.pop()
            try:
                stop()
            except Exception as e:  # stop the rest all the same
                errors.append("%s: %s" % (name, e))
                self.say("stopping %s failed: %s" % (name, e))
        return errors


def _children():
    """{pid: parent pid} of every process, from /proc."""
    out = {}
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            out[int(d.name)] = int(fields[1])
    return out


def leftovers(root=None):
    """[(pid, command line)] of the live descendants of `root` (this process)."""
    root = root or os.getpid()
    parents = _children()
    found, frontier = [], {root}
    while frontier:
        nxt = {pid for pid, ppid in parents.items() if ppid in frontier}
        found += sorted(nxt)
        frontier = nxt
    out = []
    for pid in found:
        try:
            cmd = pathlib.Path("/proc/%d/cmdline" % pid).read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out.append((pid, cmd.strip()))
    return out


def reap(timeout=3.0):
    """SIGTERM, then SIGKILL, whatever descends from us: -> what had to be ended."""
    left = leftovers()
    for pid, _ in left:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid, _ in leftovers():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left
