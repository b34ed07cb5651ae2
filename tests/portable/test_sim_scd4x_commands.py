# SCD4XModel takes every command of the SCD4x datasheet's command table and NACKs
# only where the datasheet says the chip does (on both interpreters).
MICROPYTHON_MPY = "drivers, self"

from portable_support import approx, raises

from drivers.crc import crc8
from drivers.sim import Nack, SimBus
from drivers.sim.scd4x import SCD4XModel


def send(bus, cmd, arg=None, ms=1):
    data = bytearray(((cmd >> 8) & 0xFF, cmd & 0xFF))
    if arg is not None:
        data += bytes(((arg >> 8) & 0xFF, arg & 0xFF))
        data.append(crc8(data, 2, 4, 0xFF))
    bus.writeto(0x62, data)
    bus.sleep_ms(ms)


def get(bus, cmd, n=1, ms=1):
    send(bus, cmd, None, ms)
    d = bus.readfrom(0x62, 3 * n)
    for i in range(0, 3 * n, 3):
        assert crc8(d, i, i + 2, 0xFF) == d[i + 2]
    out = [(d[i] << 8) | d[i + 1] for i in range(0, 3 * n, 3)]
    return out[0] if n == 1 else out


def setup(**kw):
    bus = SimBus(realtime=False)
    return bus, bus.attach(0x62, SCD4XModel(**kw))


def test_settings_read_back_and_persist_across_reinit():
    bus, m = setup()
    # Defaults: offset 4 C (1498 ticks), altitude 0, pressure 1013 hPa, ASC on, 400 ppm, 44 h, 156 h.
    assert [get(bus, c) for c in (0x2318, 0x2322, 0xE000, 0x2313, 0x233F, 0x2340, 0x234B)] \
        == [1498, 0, 1013, 1, 400, 44, 156]
    for cmd, value in ((0x241D, 2247), (0x2427, 450), (0xE000, 987), (0x2416, 0), (0x243A, 420),
                       (0x2445, 24), (0x244E, 72)):
        send(bus, cmd, value)
    assert [get(bus, c) for c in (0x2318, 0x2322, 0xE000, 0x2313, 0x233F, 0x2340, 0x234B)] \
        == [2247, 450, 987, 0, 420, 24, 72]
    bus.writeto(0x62, b"\x24\x27\x01\x00\x00")    # bad CRC: not applied
    bus.sleep_ms(1)
    assert get(bus, 0x2322) == 450
    send(bus, 0x3615, None, 800)                  # persist_settings
    send(bus, 0x2427, 0)
    send(bus, 0x3646, None, 30)                   # reinit: the persisted values
    assert get(bus, 0x2322) == 450 and get(bus, 0x2318) == 2247
    send(bus, 0x3632, None, 1200)                 # factory reset
    assert get(bus, 0x2322) == 0 and get(bus, 0x2318) == 1498
    assert get(bus, 0x3639, 1, 10000) == 0        # self test passed
    assert get(bus, 0x202F) >> 12 == 1            # SCD41


def test_temperature_offset_changes_the_reported_temperature_and_rh():
    bus, m = setup(temperature=25.0, humidity=50.0)
    send(bus, 0x241D, 2247)                        # 6 C: 2 C more than the default
    send(bus, 0x219D, None, 5000)
    co2, st, srh = get(bus, 0xEC05, 3)
    assert co2 == 600 and approx(-45 + 175 * st / 65535, 23.0, 0.01)
    # Same water vapour 2 C cooler: 50 %RH x exp(Magnus(25) - Magnus(23)) = 56.3 %RH.
    assert approx(100 * srh / 65535, 56.3, 0.1)


def test_forced_recalibration_needs_three_minutes_of_measuring():
    bus, m = setup(co2=700)
    send(bus, 0x362F, 400, 400)
    assert get(bus, 0xE4B8) == 0x8000              # nothing measured; a FRC result is read next
    send(bus, 0x362F, 400, 400)
    assert bus.readfrom(0x62, 3)[:2] == b"\xff\xff"   # failed: not operated long enough
    send(bus, 0x21B1, None, 180000)                # 3 minutes of periodic measurement
    send(bus, 0x3F86, None, 500)
    send(bus, 0x362F, 400, 400)
    corr = bus.readfrom(0x62, 3)
    assert (corr[0] << 8 | corr[1]) - 0x8000 == -300
    send(bus, 0x219D, None, 5000)
    assert get(bus, 0xEC05, 3)[0] == 400           # readings follow the recalibration


def test_low_power_periodic_rht_only_shot_and_periodic_rules():
    bus, m = setup(co2=800)
    send(bus, 0x21AC, None, 29999)                 # low power periodic: every 30 s
    assert get(bus, 0xE4B8) & 0x07FF == 0
    bus.sleep_ms(1)
    assert get(bus, 0xE4B8) & 0x07FF != 0
    for cmd in (0x2318, 0x3682, 0x219D, 0x3615, 0x202F):
        with raises(Nack):                         # not allowed during periodic measurement
            send(bus, cmd)
    send(bus, 0xE000, 950)                         # ambient pressure is
    assert get(bus, 0xE000) == 950
    assert get(bus, 0xEC05, 3)[0] == 800
    send(bus, 0x3F86, None, 500)
    send(bus, 0x2196, None, 49)                    # RH and T only: 50 ms, CO2 0
    with raises(Nack):
        bus.readfrom(0x62, 3)
    bus.sleep_ms(1)
    assert get(bus, 0xEC05, 3)[0] == 0


def test_power_down_and_wake_up():
    bus, m = setup()
    send(bus, 0x36E0)
    with raises(Nack):
        send(bus, 0x3682)                          # powered down: nothing is acknowledged
    with raises(Nack):
        send(bus, 0x36F6)                          # wake_up is not acknowledged either
    bus.sleep_ms(29)
    with raises(Nack):
        send(bus, 0x3682)                          # awake only 30 ms later
    bus.sleep_ms(1)
    assert get(bus, 0x3682, 3) == [0x1A2B, 0x3C4D, 0x5E6F]


def test_scd40_refuses_the_scd41_commands():
    bus, m = setup(variant=0)
    assert get(bus, 0x202F) >> 12 == 0
    for cmd in (0x219D, 0x2196, 0x36E0, 0x2340, 0x244E):
        with raises(Nack):
            send(bus, cmd)
    with raises(Nack):
        send(bus, 0x3000)                          # not a command at all
