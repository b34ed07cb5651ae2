# MAX44009 driver x MAX44009Model through SimBus, on CPython and MicroPython.
from portable_support import raises

MICROPYTHON_MPY = "drivers, self"

from drivers import SensorError
from drivers.sim import SimBus
from drivers.sim.max44009 import MAX44009Model
from drivers.max44009 import MAX44009


def setup(address=0x4A, **kw):
    bus = SimBus()
    model = bus.attach(address, MAX44009Model(**kw))
    return bus, model


def check(bus, sensor, model, lux, lsb):
    model.lux = lux
    bus.sleep_ms(900)
    got = sensor.read()["lux"]
    # 8-bit mantissa: 1/128 relative at worst, or one LSB of the range at the bottom.
    assert abs(got - lux) <= lux / 128.0 + lsb, (sensor.config, lux, got)


def test_automatic_range_round_trip():
    bus, model = setup()
    sensor = MAX44009(bus)
    assert sensor.config == 0 and model.regs[0x02] == 0x03   # POR value left alone
    for lux in (0.045, 0.5, 7.3, 99.0, 1234.5, 20000.0, 100000.0, 187000.0):
        check(bus, sensor, model, lux, 0.045)


def test_every_manual_integration_time_and_cdr():
    bus, model = setup(0x4B)
    times = (800, 400, 200, 100, 50, 25, 12.5, 6.25)
    for cdr in (False, True):
        for i in range(8):
            sensor = MAX44009(bus, 0x4B, integration_ms=times[i], cdr=cdr)
            emin = i + (3 if cdr else 0)
            assert model.regs[0x02] == 0x40 | (0x08 if cdr else 0) | i
            lsb = 0.045 * (1 << emin)
            top = 255 * (1 << min(emin + 8, 14)) * 0.045
            for lux in (lsb * 40, top * 0.9):
                check(bus, sensor, model, lux, lsb)
            if emin + 8 < 14:
                model.lux = top * 1.2
                bus.sleep_ms(900)
                with raises(SensorError, "MAX44009@0x4b: overrange"):
                    sensor.read()


def test_one_read_is_one_transaction_with_repeated_starts():
    bus, model = setup()
    sensor = MAX44009(bus)
    bus.reset_counters()
    sensor.read()
    assert (bus.transactions, bus.bytes_written, bus.bytes_read) == (1, 2, 2)


def test_not_a_max44009():
    # A chip that auto-increments (as nearly all do) is not taken for a MAX44009.
    from drivers.sim.base import RegisterModel
    bus = SimBus()
    other = bus.attach(0x4A, RegisterModel(8))
    other.regs[2] = 0x03
    other.regs[3] = 0x14
    with raises(SensorError, "MAX44009@0x4a: 2-byte read at 0x02 gave 03 14"):
        MAX44009(bus)
    with raises(SensorError, "no ACK"):
        MAX44009(SimBus())
    with raises(ValueError, "integration_ms"):
        MAX44009(bus, integration_ms=300)


def test_bus_faults_raise_sensor_error():
    bus, model = setup(lux=500.0)
    sensor = MAX44009(bus)
    bus.inject(0x4A, "nack")
    with raises(SensorError, "MAX44009@0x4a: no ACK"):
        sensor.read()
    bus.inject(0x4A, "timeout")
    with raises(SensorError, "bus timeout"):
        sensor.read()
    bus.inject(0x4A, "nack", None)
    with raises(SensorError, "no ACK"):
        sensor.read()
    bus.clear_faults()
    check(bus, sensor, model, 500.0, 0.045)


def test_stuck_and_corrupt_bytes():
    bus, model = setup(lux=500.0)
    sensor = MAX44009(bus)
    bus.sleep_ms(800)       # the first cycle since power-up (attach) has ended
    assert abs(sensor.read()["lux"] - 500.0) <= 500.0 / 128
    # The low byte is read first; replaying the previous high byte (exponent set) shows.
    bus.inject(0x4A, "stuck")
    with raises(SensorError, "reserved bits 7:4 set"):
        sensor.read()
    bus.inject(0x4A, "corrupt")                # first read message: the low byte
    with raises(SensorError, "reserved bits 7:4 set"):
        sensor.read()
    check(bus, sensor, model, 500.0, 0.045)


def test_continuous_mode_measures_back_to_back():
    bus, model = setup()
    sensor = MAX44009(bus, continuous=True)
    assert model.regs[0x02] & 0xC0 == 0x80 and model.period_ms() == 100.0
    check(bus, sensor, model, 321.0, 0.045)
