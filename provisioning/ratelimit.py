"""Failed authentications counted per key (a login, a client address) in a sliding
window: past `limit` failures a key is refused for the rest of the window, so that
guessing costs an attacker a window per `limit` tries, and a real device whose
login is being guessed waits at most one window. Bounded memory: the oldest keys
go first."""
import collections
import time


class FailureLimit:
    def __init__(self, limit, window=60.0, max_keys=100000, clock=time.monotonic):
        self.limit, self.window, self.max_keys, self.clock = limit, window, max_keys, clock
        self._fails = collections.OrderedDict()  # key -> deque of failure times

    def retry_after(self, key):
        """0 when `key` may try now, else the seconds until it may."""
        times = self._fails.get(key)
        if not times:
            return 0
        now = self.clock()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._fails[key]
            return 0
        if len(times) < self.limit:
            return 0
        return max(0.001, times[0] + self.window - now)

    def failed(self, key):
        times = self._fails.get(key)
        if times is None:
            times = self._fails[key] = collections.deque(maxlen=self.limit)
            if len(self._fails) > self.max_keys:
                self._fails.popitem(last=False)
        else:
            self._fails.move_to_end(key)
        times.append(self.clock())
