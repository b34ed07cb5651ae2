# TSL2591 driver x TSL2591Model: identity, bus faults, stuck/corrupt bytes, a stalled chip.
from portable_support import raises

MICROPYTHON_MPY = "drivers, self, tsl2591_helpers"


from drivers import SensorError
from drivers.sim import SimBus
from drivers.tsl2591 import TSL2591
from tsl2591_helpers import setup, check


def test_identity_mismatch():
    bus, model = setup(chip_id=0x51)
    with raises(SensorError, "TSL2591@0x29: ID register 0x12 reads 0x51"):
        TSL2591(bus)
    with raises(SensorError, "TSL2591@0x29: no ACK"):
        TSL2591(SimBus())


def test_bus_faults_raise_sensor_error():
    bus, model = setup(lux=100.0)
    sensor = TSL2591(bus)
    sensor.read()
    bus.inject(0x29, "nack")
    with raises(SensorError, "no ACK"):
        sensor.read()
    bus.inject(0x29, "timeout")
    with raises(SensorError, "bus timeout"):
        sensor.read()
    bus.inject(0x29, "nack", None)
    with raises(SensorError, "no ACK"):
        sensor.read()
    bus.clear_faults()
    check(bus, sensor, model, 100.0, 0.002)


def test_stuck_and_corrupt_bytes():
    bus, model = setup(lux=100.0)
    sensor = TSL2591(bus)
    # The last read was the ID byte 0x50: replayed as STATUS its reserved bits show.
    bus.inject(0x29, "stuck")
    with raises(SensorError, "STATUS reads 0x50"):
        sensor.read()
    sensor.read()
    # The burst's last byte is CH1's high byte: flipped, IR exceeds full spectrum.
    bus.inject(0x29, "corrupt")
    with raises(SensorError, "IR channel above full-spectrum"):
        sensor.read()
    bus.inject(0x29, "corrupt")                  # on the ID read
    with raises(SensorError, "ID register 0x12 reads 0x0a"):
        TSL2591(bus)


def test_chip_that_never_finishes_an_integration():
    bus, model = setup()
    sensor = TSL2591(bus)
    model.regs[0x00] = 0                         # ALS disabled behind the driver's back
    model._t0 = None
    model.regs[0x13] = 0
    with raises(SensorError, "AVALID stays 0"):
        sensor.read()
    assert model.regs[0x00] == 0x03                # the driver switched it back on
    check(bus, sensor, model, 300.0, 0.002)
