MICROPYTHON_MPY = "neocampus, self"

from neocampus import table
from neocampus.params import PARAMS, settings
from neocampus.policy import SensorPolicy as _SensorPolicy
from neocampus.policy import clamp_frequency


def SensorPolicy(module, params, now=0, frequency=None):
    """A policy from a config's params, checked as a Module checks them."""
    return _SensorPolicy(module, settings(module, params), now, frequency)


def simulate(policy, value_at, start, end, reads=None):
    """Drive the policy as a device loop does: read, feed, sleep sample_interval.
    Returns [(t_ms, published value)]."""
    out = []
    now = start
    while now < end:
        v = policy.feed(value_at(now), now)
        if reads is not None:
            reads.append(now)
        if v is not None:
            out.append((now, v))
        now += policy.sample_interval(now)
    return out


def const(v):
    return lambda t: v


def test_ranges_and_clamping():
    for module, want in (("temperature", (30, 60, 1800)), ("luminosity", (15, 30, 1800)),
                         ("noise", (300, 2700, 3600)), ("device", (900, 1800, 21600))):
        r = table.MODULES[module]
        assert (r[table.FREQ_MIN], r[table.FREQ_DEFAULT], r[table.FREQ_MAX]) == want
    assert clamp_frequency("temperature", 5) == 30
    assert clamp_frequency("temperature", 99999) == 1800
    assert clamp_frequency("luminosity", 10) == 15
    assert clamp_frequency("humidity", 120) == 120
    assert clamp_frequency("device", 60) == 900
    assert clamp_frequency("airquality", None) == 60
    assert clamp_frequency("temperature", "fast") == 60
    assert clamp_frequency("temperature", float("nan")) == 60
    p = SensorPolicy("temperature", {}, 0, frequency=5)
    assert p.frequency == 30
    assert p.set_frequency(100000) == 1800 and p.frequency == 1800


def test_stable_window_of_seven_reads():
    p = SensorPolicy("temperature", {}, 0)
    for i in range(6):
        assert p.feed(21.5, i * 150) is None
    assert p.feed(21.5, 900) == 21.5


def test_window_spread_within_one_and_a_half_percent():
    # 100 and 101.4: spread 1.4 <= 1.5 % of 101.4 -> stable; the mean is official.
    p = SensorPolicy("humidity", {}, 0)
    got = [p.feed(100.0 + 1.4 * (i % 2), i * 150) for i in range(7)]
    assert got[:6] == [None] * 6 and abs(got[6] - (100 * 4 + 101.4 * 3) / 7) < 1e-9, got
    # 100 and 101.6 never settle.
    p = SensorPolicy("humidity", {}, 0)
    assert [p.feed(100.0 + 1.6 * (i % 2), i * 150) for i in range(40)] == [None] * 40
    # A jump restarts the window: six more reads are needed.
    p = SensorPolicy("temperature", {}, 0)
    for i in range(5):
        p.feed(20.0, i * 150)
    assert [p.feed(25.0, 750 + i * 150) for i in range(7)] == [None] * 6 + [25.0]


def test_absolute_floor_near_zero():
    p = SensorPolicy("temperature", {}, 0)
    got = [p.feed(0.05 * (i % 2) - 0.02, i * 150) for i in range(7)]
    assert got[6] is not None, got
    p = SensorPolicy("luminosity", {}, 0)
    assert [p.feed(float(i % 2), i * 150) for i in range(7)][6] == 3 / 7


def test_failed_reads_break_the_window():
    p = SensorPolicy("temperature", {}, 0)
    for i in range(6):
        p.feed(21.0, i * 150)
    assert p.feed(None, 900) is None
    assert p.feed(float("nan"), 1050) is None
    assert p.feed("21", 1100) is None
    assert [p.feed(21.0, 1200 + i * 150) for i in range(7)] == [None] * 6 + [21.0]


def test_delta_and_cooldown():
    level = [21.0]
    p = SensorPolicy("temperature", {}, 0, frequency=60)
    sent = simulate(p, lambda t: level[0], 0, 30000)
    assert len(sent) == 1 and sent[0][1] == 21.0 and sent[0][0] <= 2000, sent
    level[0] = 21.1  # below delta: official values, nothing published
    sent = simulate(p, lambda t: level[0], 30000, 200000)
    assert sent == [], sent
    level[0] = 21.2  # 0.2 from the last sent value
    sent = simulate(p, lambda t: level[0], 200000, 400000)
    assert len(sent) == 1 and sent[0][1] == 21.2, sent
    # Changing at every read: published values stay `frequency` apart.
    p = SensorPolicy("temperature", {}, 0, frequency=30)
    sent = simulate(p, lambda t: 15.0 + t // 20000, 0, 300000)
    times = [t for t, v in sent]
    assert len(times) >= 8, sent
    for a, b in zip(times, times[1:]):
        assert b - a >= 30000, times


def test_forced_publish_after_1800_s():
    p = SensorPolicy("temperature", {}, 0, frequency=60)
    sent = simulate(p, const(19.0), 0, 4000 * 1000)
    times = [t for t, v in sent]
    assert len(times) == 3, times
    assert 1800000 <= times[1] - times[0] <= 1800000 + 60000 + 2000, times
    assert 1800000 <= times[2] - times[1] <= 1800000 + 60000 + 2000, times


def test_fast_start_publishes_within_two_seconds_then_normal_rhythm():
    def noisy(t):  # +-0.03 degC of read noise around 21.3
        return 21.3 + ((t // 150) % 3 - 1) * 0.03

    reads = []
    p = SensorPolicy("temperature", {}, 5000, frequency=60)
    sent = simulate(p, noisy, 5000, 200000, reads)
    assert sent and sent[0][0] - 5000 <= 2000, sent
    assert abs(sent[0][1] - 21.3) < 0.05
    assert not p.bursting(sent[0][0])
    gaps = [b - a for a, b in zip(reads, reads[1:]) if a > sent[0][0]]
    assert min(gaps) == 1250, gaps  # back to 1.25 s between reads of a window
    # The historic rhythm (no burst) takes ~9 s.
    p = SensorPolicy("temperature", {"burst_time": 0}, 0)
    sent = simulate(p, noisy, 0, 20000)
    assert sent[0][0] >= 7000, sent
    # start() re-arms the burst, e.g. after an MQTT reconnection.
    p = SensorPolicy("temperature", {}, 0)
    simulate(p, noisy, 0, 100000)
    p.start(100000)
    sent = simulate(p, noisy, 100000, 103000)
    assert sent and sent[0][0] - 100000 <= 2000, sent


def test_idle_between_official_values_keeps_reads_few():
    reads = []
    p = SensorPolicy("temperature", {}, 0, frequency=600)
    simulate(p, const(20.0), 0, 3600 * 1000, reads)
    assert len(reads) < 100, len(reads)  # 6 windows of 7 reads, not 2880 reads


def test_acquire_forces_the_next_read():
    p = SensorPolicy("temperature", {}, 0, frequency=60)
    sent = simulate(p, const(22.0), 0, 10000)
    assert len(sent) == 1
    p.force()
    assert p.sample_interval(10000) == 0
    assert p.feed(22.0, 10000) == 22.0  # same value, mid-cooldown: published anyway
    assert p.sample_interval(10000) > 1250
    assert p.feed(22.0, 11250) is None


def test_params_from_config_with_defaults():
    assert PARAMS["stable_reads"][0] == 7 and PARAMS["stable_pct"][0] == 1.5
    assert PARAMS["delta"][0] == 0.15 and PARAMS["forced"][0] == 1800
    p = SensorPolicy("temperature", {"stable_reads": 3, "delta": 1.0, "forced": 600, "read_period": 2}, 0,
                     frequency=30)
    assert p.ignored == []
    assert [p.feed(20.0, i * 150) for i in range(3)] == [None, None, 20.0]
    sent = simulate(p, const(20.5), 1000, 700000)  # 0.5 < delta 1.0: only the forced publish
    times = [t for t, v in sent]
    assert len(times) == 1 and 600300 <= times[0] <= 600300 + 30000 + 3 * 2000, times
    p = SensorPolicy("temperature", {"stable_reads": "seven", "delta": -1, "forced": True, "unknown": 3}, 0)
    assert sorted(p.ignored) == ["delta", "forced", "stable_reads"], p.ignored
    assert p.cfg[0] == 7 and p.cfg[3] == 0.15 and p.cfg[4] == 1800000  # stable_reads, delta, forced_ms


def test_feed_allocates_little_under_micropython():
    from portable_support import IS_MICROPYTHON, SkipTest
    if not IS_MICROPYTHON:
        raise SkipTest("gc.mem_alloc is MicroPython's")
    import gc
    p = SensorPolicy("luminosity", {}, 0)
    for i in range(10):
        p.feed(300, i * 150)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for i in range(100):
            now = 2000 + i * 1250
            p.feed(300, now)
            p.sample_interval(now)
        used = gc.mem_alloc() - before
    finally:
        gc.enable()
    # The 64-bit unix port boxes each float result (16 B; the ESP8266 does not):
    # about two per read. A tuple or list per call would double this.
    assert used <= 100 * 40, used
