"""Sampling and publishing policy of a sensor (protocol document section 4).

TIME IS INTEGER MILLISECONDS, passed in: time.ticks_ms() on a board (compared
with time.ticks_diff, so the 2**30 wrap of the ESP8266 is harmless), any
monotonic int ms on CPython. Seconds as floats would lose sub-second
precision on the ESP8266's 30-bit floats within hours.

A value becomes official after `stable_reads` (7) consecutive reads whose
spread (max - min) is at most `stable_pct` (1.5 %) of their magnitude, or
`stable_abs` when that is larger (a room at 0.0 degC or in the dark would
otherwise never be stable); the official value is the mean of that window.
Official values are at least `frequency` seconds apart (clamped to the
module's range). One is published when it differs from the last sent value by
at least `delta` (0.15) or when `forced` (1800) s passed since the last send.

Fast start: until the first official value, for at most `burst_time` (2 s)
after start(), reads come every `burst_period` (0.15 s), so the first value
is official ~0.9 s after the MQTT connection instead of ~9 s; then the
normal rhythm, `read_period` (1.25 s). Between official values,
sample_interval() idles until just enough reads remain to fill a window
before `frequency` elapses: fewer I2C transactions, same published values.

Numbers come from the module config's params (names above, in seconds and
percent); a param of the wrong type or out of range keeps its default and its
name is listed in `ignored` (for the status), never an exception.

Changes from core_contract.md (additive): SensorPolicy(module, params=None,
now=0, frequency=None); methods start(now), set_frequency(s), property
frequency; attributes last (last official value), ignored. noise and digital
are event-driven: only clamp_frequency/RANGES apply to them. Stabilizer is
an alias of SensorPolicy.
"""
try:
    from time import ticks_diff as _diff
except ImportError:
    def _diff(a, b):
        return a - b

# module: (min, default, max) frequency in seconds.
RANGES = {
    "temperature": (30, 60, 1800),
    "humidity": (30, 60, 1800),
    "airquality": (30, 60, 1800),
    "luminosity": (15, 30, 1800),
    "noise": (300, 2700, 3600),
    "device": (900, 1800, 21600),
}
_SENSOR_RANGE = (30, 60, 1800)  # modules without a row (digital, display)
_LONG_AGO = 0x3FFFFFFF  # elapsed time when the clock went back or wrapped twice
_NUM = (int, float)  # built once: a tuple literal of names is rebuilt at every call

# name: (default, low, high); seconds and percent as in the config.
PARAMS = {
    "stable_reads": (7, 2, 50),
    "stable_pct": (1.5, 0, 50),
    "stable_abs": (0.15, 0, 1000),
    "delta": (0.15, 0, 100000),
    "forced": (1800, 60, 86400),
    "read_period": (1.25, 0.05, 60),
    "burst_period": (0.15, 0.02, 5),
    "burst_time": (2, 0, 30),
}
# Integer-valued sensors jitter by whole units in the dark or in clean air.
_ABS_FLOOR = {"luminosity": 1, "airquality": 1}


def clamp_frequency(module, seconds=None):
    """Seconds clamped to the module's range; None or junk gives the default."""
    low, default, high = RANGES.get(module, _SENSOR_RANGE)
    if isinstance(seconds, bool) or not isinstance(seconds, _NUM) or seconds - seconds != 0:
        return default
    return int(max(low, min(high, seconds)))


def _elapsed(now, then):
    if then is None:
        return _LONG_AGO
    d = _diff(now, then)
    return d if d >= 0 else _LONG_AGO


def settings(module, params=None):
    """The module's params, checked once: (stable_reads, stable_pct as a
    fraction, stable_abs, delta, forced_ms, read_ms, burst_ms, burst_time_ms,
    names of the params ignored). A Module shares one among its sensors."""
    params = params or {}
    ignored = []
    out = []
    for name in _ORDER:
        d, low, high = PARAMS[name]
        if name == "stable_abs":
            d = _ABS_FLOOR.get(module, d)
        v = params.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, _NUM) or not low <= v <= high):
            ignored.append(name)
            v = None
        v = d if v is None else v
        # Times in integer ms; stable_reads a count; stable_pct a fraction.
        out.append(int(v) if name == "stable_reads" else v / 100 if name == "stable_pct"
                   else int(v * 1000) if name in _MS else v)
    out.append(ignored)
    return tuple(out)


_ORDER = ("stable_reads", "stable_pct", "stable_abs", "delta", "forced", "read_period", "burst_period",
          "burst_time")
_MS = ("forced", "read_period", "burst_period", "burst_time")


class SensorPolicy:
    # Few attributes on purpose: a board keeps one of these per sensor, and
    # each attribute is a slot of the instance's table (16 bytes on 64 bits).
    def __init__(self, module, params=None, now=0, frequency=None):
        self.module = module
        self.cfg = params if isinstance(params, tuple) else settings(module, params)
        self.ignored = self.cfg[8]
        self.set_frequency(frequency)
        self.last_sent_t = None
        self._w = [0, 0, 0, 0]  # the stable window: lowest, highest, first read, sum of offsets
        self.start(now)

    def start(self, now):
        """(Re)arm the fast start, e.g. at each MQTT connection: the next
        official value comes from a burst and is published whatever its delta."""
        self.t_start = now
        self.last_official = None
        self.last_sent = None
        self._n = 0
        self._force = False
        self.last = None

    @property
    def frequency(self):
        return self.freq_ms // 1000

    def set_frequency(self, seconds):
        """Clamp to the module's range; returns the seconds kept."""
        s = clamp_frequency(self.module, seconds)
        self.freq_ms = s * 1000
        return s

    def force(self):
        """The acquire order: the next read is published as it is."""
        self._force = True

    def bursting(self, now):
        return self.last_official is None and _elapsed(now, self.t_start) < self.cfg[7]

    def sample_interval(self, now):
        """Milliseconds until the next read."""
        if self._force:
            return 0
        cfg = self.cfg
        if self.bursting(now):
            return cfg[6]
        read = cfg[5]
        if self.last_official is not None and self._n == 0:
            left = self.freq_ms - _elapsed(now, self.last_official)
            idle = left - (cfg[0] - 1) * read
            if idle > read:
                return idle
        return read

    def _official(self, value, now):
        self.last_official = now
        self._n = 0
        self.last = value
        if (self.last_sent is None or abs(value - self.last_sent) >= self.cfg[3]
                or _elapsed(now, self.last_sent_t) >= self.cfg[4]):
            self.last_sent = value
            self.last_sent_t = now
            return value
        return None

    def feed(self, value, now):
        """One read (None for a failed read); returns the value to publish or None."""
        if (isinstance(value, bool) or not isinstance(value, _NUM)
                or value - value != 0):
            self._n = 0  # a failed read breaks the window
            return None
        if self._force:
            self._force = False
            self.last_sent = None
            return self._official(value, now)
        n = self._n
        w = self._w
        if n:
            lo = min(w[0], value)
            hi = max(w[1], value)
            tol = self.cfg[1] * max(abs(lo), abs(hi))
            ab = self.cfg[2]
            if hi - lo <= (tol if tol > ab else ab):
                w[0] = lo
                w[1] = hi
                w[3] += value - w[2]
                n += 1
            else:
                n = 0
        if not n:
            # Sum offsets from the first read: exact for a flat signal, and no
            # precision lost to big magnitudes on the ESP8266's short floats.
            w[0] = w[1] = w[2] = value
            w[3] = 0
            n = 1
        self._n = n
        if n < self.cfg[0]:
            return None
        if self.last_official is not None and _elapsed(now, self.last_official) < self.freq_ms:
            return None
        return self._official(w[2] + w[3] / n, now)


Stabilizer = SensorPolicy
