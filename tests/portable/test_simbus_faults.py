# SimBus fault injection (nack, timeout, corrupt, stuck, model NACKs) and the
# wording of the SensorError drivers.bus.I2CDevice turns them into.
from portable_support import raises

MICROPYTHON_MPY = "drivers, self"

from drivers import SensorError
from drivers.bus import I2CDevice
from drivers.scan import addresses
from drivers.sim import Nack, SimBus
from simbus_models import Echo, regbus


def test_absent_address_nacks_with_enodev():
    bus = SimBus()
    with raises(OSError) as info:
        bus.readfrom(0x50, 1)
    assert info.value.args[0] == 19


def test_nack_fault_counts_down_then_clears():
    bus, m = regbus()
    bus.inject(0x20, "nack", 2)
    for _ in range(2):
        with raises(Nack):
            bus.readfrom_mem(0x20, 1, 1)
    assert bus.readfrom_mem(0x20, 1, 1) == b"\x01"
    bus.inject(0x20, "nack", None)
    for _ in range(5):
        with raises(OSError):
            bus.readfrom(0x20, 1)
    assert 0x20 not in bus.scan()
    bus.clear_faults()
    assert bus.readfrom_mem(0x20, 7, 1) == b"\x07"


def test_timeout_fault_raises_etimedout():
    bus, m = regbus()
    bus.inject(0x20, "timeout")
    with raises(OSError) as info:
        bus.writeto_mem(0x20, 3, b"\x00")
    assert info.value.args[0] == 110
    assert m.regs[3] == 3  # nothing reached the chip
    bus.writeto_mem(0x20, 3, b"\x00")
    assert m.regs[3] == 0


def test_corrupt_flips_the_last_byte_of_the_next_read_only():
    bus, m = regbus()
    bus.inject(0x20, "corrupt")
    d = bus.readfrom_mem(0x20, 0x10, 3)
    assert d[:2] == b"\x10\x11" and d[2] != 0x12
    assert bus.readfrom_mem(0x20, 0x10, 3) == b"\x10\x11\x12"


def test_stuck_repeats_the_previous_read_and_pads_with_ff():
    bus, m = regbus()
    bus.readfrom_mem(0x20, 0x30, 2)
    bus.inject(0x20, "stuck", 2)
    assert bus.readfrom_mem(0x20, 0x50, 2) == b"\x30\x31"
    assert bus.readfrom_mem(0x20, 0x60, 4) == b"\x30\x31\xff\xff"
    assert bus.readfrom_mem(0x20, 0x60, 1) == b"\x60"


def test_faults_only_hit_their_address():
    bus, m = regbus()
    bus.attach(0x30, Echo())
    bus.inject(0x30, "nack", None)
    assert bus.readfrom_mem(0x20, 4, 1) == b"\x04"
    with raises(Nack):
        bus.writeto(0x30, b"\x01")
    with raises(ValueError, "kind"):
        bus.inject(0x20, "smoke")


def test_model_nack_propagates_and_closes_the_transaction():
    bus = SimBus()
    e = bus.attach(0x30, Echo())
    e.busy = True
    with raises(Nack):
        bus.writeto(0x30, b"\x01", False)
    e.busy = False
    bus.writeto(0x30, b"\x02")
    assert bus.transactions == 2


def test_i2cdevice_errors_name_chip_address_and_cause():
    bus, m = regbus()
    d = I2CDevice(bus, 0x20, "TEST")
    buf = bytearray(1)
    bus.inject(0x20, "nack")
    with raises(SensorError, "TEST@0x20: no ACK (errno 19) reading register 0x05"):
        d.read_reg_into(5, buf)
    bus.inject(0x20, "timeout")
    with raises(SensorError, "TEST@0x20: bus timeout"):
        d.write(b"\x01")
    gone = I2CDevice(bus, 0x21, "GONE")
    with raises(SensorError, "GONE@0x21: no ACK"):
        gone.read_into(buf)
    with raises(SensorError, "write-then-read"):
        gone.write_then_read_into(b"\x00", buf)
    with raises(SensorError, "writing register 0x07"):
        gone.write_reg(7, b"\x00")
    with raises(TypeError, "not an I2C bus"):
        I2CDevice(object(), 0x20)


class StuckBus(SimBus):
    """A bus whose SDA line is held low: the controller times out at once."""

    def scan(self):
        raise OSError(110, "ETIMEDOUT")


def test_a_bus_that_cannot_be_scanned_raises_sensor_error():
    with raises(SensorError, "I2C bus: bus timeout (errno 110) during scan"):
        addresses(StuckBus())

