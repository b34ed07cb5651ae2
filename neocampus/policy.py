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
percent), checked by neocampus.params.settings(): a param of the wrong type
or out of range keeps its default and its name is listed in `ignored` (for
the status), never an exception. That check is set-up work, kept out of this
module: a board does it in its set-up phase and never loads it in its loop.
This module owns the layout of the checked settings (the S_* indexes below);
params.settings() builds it; the import goes one way, params -> policy.

Changes from core_contract.md: SensorPolicy(module, settings, now=0,
frequency=None), where settings is the tuple that params.settings(module,
params) returns (a Module checks its params once and shares the tuple);
methods start(now), set_frequency(s), property frequency; attributes cfg
(that tuple) and ignored. noise and digital are event-driven: only
clamp_frequency applies to them (ranges: neocampus.table). Stabilizer is an
alias of SensorPolicy.
"""
# CPython fallbacks as builtins, not functions of ours: a def costs a board
# its code object even when the branch never runs.
try:
    from micropython import const
except ImportError:
    const = int

try:
    from time import ticks_diff as _diff
except ImportError:
    from operator import sub as _diff

from neocampus import table

# The checked settings, a tuple (params.settings() builds it): times in ms.
S_READS = const(0)       # stable_reads: reads in a stable window
S_PCT = const(1)         # stable_pct, as a fraction
S_ABS = const(2)         # stable_abs, in the module's unit
S_DELTA = const(3)       # delta: change that publishes
S_FORCED = const(4)      # forced: publish at least this often
S_READ = const(5)        # read_period
S_BURST = const(6)       # burst_period
S_BURST_TIME = const(7)  # burst_time
S_IGNORED = const(8)     # names of the params ignored
_LONG_AGO = const(0x3FFFFFFF)  # elapsed time when the clock went back or wrapped twice
_NUM = (int, float)  # built once: a tuple literal of names is rebuilt at every call


def clamp_frequency(module, seconds=None):
    """Seconds clamped to the module's range; None or junk gives the default."""
    r = table.row(module)
    low, default, high = r[table.FREQ_MIN], r[table.FREQ_DEFAULT], r[table.FREQ_MAX]
    if isinstance(seconds, bool) or not isinstance(seconds, _NUM) or seconds - seconds != 0:
        return default
    return int(max(low, min(high, seconds)))


def _elapsed(now, then):
    if then is None:
        return _LONG_AGO
    d = _diff(now, then)
    return d if d >= 0 else _LONG_AGO


# The state of a sensor's policy, one list (indexes below): a board keeps one
# per sensor, and a list of 11 costs a third of an instance table of 11.
_START = const(0)       # start() time: the fast start counts from it
_OFFICIAL = const(1)    # time of the last official value, None before the first
_SENT = const(2)        # last value published, None: the next one goes out
_SENT_T = const(3)      # when it was
_N = const(4)           # reads in the current stable window
_FORCE = const(5)       # acquire order pending
_FREQ = const(6)        # cooldown, ms
_LO = const(7)          # the window: lowest, highest, first read, sum of offsets
_HI = const(8)
_FIRST = const(9)
_SUM = const(10)


class SensorPolicy:
    def __init__(self, module, settings, now=0, frequency=None):
        self.module = module
        self.cfg = settings
        self.ignored = settings[S_IGNORED]
        self.s = [0, None, None, None, 0, False, 0, 0, 0, 0, 0]
        self.set_frequency(frequency)
        self.start(now)

    def start(self, now):
        """(Re)arm the fast start, e.g. at each MQTT connection: the next
        official value comes from a burst and is published whatever its delta."""
        s = self.s
        s[_START] = now
        s[_OFFICIAL] = s[_SENT] = None
        s[_N] = 0
        s[_FORCE] = False

    @property
    def frequency(self):
        return self.s[_FREQ] // 1000

    def set_frequency(self, seconds):
        """Clamp to the module's range; returns the seconds kept."""
        f = clamp_frequency(self.module, seconds)
        self.s[_FREQ] = f * 1000
        return f

    def force(self):
        """The acquire order: the next read is published as it is."""
        self.s[_FORCE] = True

    def bursting(self, now):
        return self.s[_OFFICIAL] is None and _elapsed(now, self.s[_START]) < self.cfg[S_BURST_TIME]

    def sample_interval(self, now):
        """Milliseconds until the next read."""
        s = self.s
        if s[_FORCE]:
            return 0
        cfg = self.cfg
        if self.bursting(now):
            return cfg[S_BURST]
        read = cfg[S_READ]
        if s[_OFFICIAL] is not None and s[_N] == 0:
            left = s[_FREQ] - _elapsed(now, s[_OFFICIAL])
            idle = left - (cfg[S_READS] - 1) * read
            if idle > read:
                return idle
        return read

    def _official(self, value, now):
        s = self.s
        s[_OFFICIAL] = now
        s[_N] = 0
        if (s[_SENT] is None or abs(value - s[_SENT]) >= self.cfg[S_DELTA]
                or _elapsed(now, s[_SENT_T]) >= self.cfg[S_FORCED]):
            s[_SENT] = value
            s[_SENT_T] = now
            return value
        return None

    def feed(self, value, now):
        """One read (None for a failed read); returns the value to publish or None."""
        s = self.s
        if (isinstance(value, bool) or not isinstance(value, _NUM)
                or value - value != 0):
            s[_N] = 0  # a failed read breaks the window
            return None
        if s[_FORCE]:
            s[_FORCE] = False
            s[_SENT] = None
            return self._official(value, now)
        n = s[_N]
        if n:
            lo = min(s[_LO], value)
            hi = max(s[_HI], value)
            tol = self.cfg[S_PCT] * max(abs(lo), abs(hi))
            ab = self.cfg[S_ABS]
            if hi - lo <= (tol if tol > ab else ab):
                s[_LO] = lo
                s[_HI] = hi
                s[_SUM] += value - s[_FIRST]
                n += 1
            else:
                n = 0
        if not n:
            # Sum offsets from the first read: exact for a flat signal, and no
            # precision lost to big magnitudes on the ESP8266's short floats.
            s[_LO] = s[_HI] = s[_FIRST] = value
            s[_SUM] = 0
            n = 1
        s[_N] = n
        if n < self.cfg[S_READS]:
            return None
        if s[_OFFICIAL] is not None and _elapsed(now, s[_OFFICIAL]) < s[_FREQ]:
            return None
        return self._official(s[_FIRST] + s[_SUM] / n, now)


Stabilizer = SensorPolicy
