# SimBus and drivers.bus.I2CDevice on both interpreters: the machine.I2C-style
# and busio-style calls, counters, scan, virtual time, RegisterModel hooks.
from portable_support import raises

MICROPYTHON_MPY = "drivers, self"

from drivers.bus import I2CDevice
from drivers.scan import addresses
from drivers.sim import Nack, SimBus
from drivers.sim.base import RegisterModel
from simbus_models import Echo, regbus


def test_machine_mem_calls_use_the_register_pointer():
    bus, m = regbus()
    assert bus.readfrom_mem(0x20, 0x10, 3) == b"\x10\x11\x12"
    buf = bytearray(2)
    bus.readfrom_mem_into(0x20, 0xFF, buf)
    assert buf == b"\xff\x00"  # auto-increment wraps at the end of the map
    bus.writeto_mem(0x20, 0x40, b"\xaa\xbb")
    assert m.regs[0x40] == 0xAA and m.regs[0x41] == 0xBB
    assert bus.readfrom_mem(0x20, 0x0102, 1, addrsize=16) == b"\x02"  # 0x01 then 0x02 written


def test_plain_reads_and_writes():
    bus = SimBus()
    e = bus.attach(0x30, Echo())
    assert bus.writeto(0x30, b"\x01\x02\x03") == 3
    assert e.last == b"\x01\x02\x03"
    assert bus.readfrom(0x30, 2) == b"\x01\x02"
    buf = bytearray(5)
    bus.readfrom_into(0x30, buf)
    assert buf == b"\x01\x02\x03\xff\xff"  # a chip that stops driving reads as 0xFF
    bus.writevto(0x30, (b"\x09", bytearray(b"\x08\x07")))
    assert e.last == b"\x09\x08\x07"
    bus.writeto(0x30, b"\x00\x11\x22\x33", start=1, end=3)
    assert e.last == b"\x11\x22"


def test_counters_count_transactions_and_bytes():
    bus, m = regbus()
    bus.readfrom_mem(0x20, 0, 4)  # pointer write + repeated start read: one transaction
    assert (bus.transactions, bus.bytes_written, bus.bytes_read) == (1, 1, 4)
    bus.writeto(0x20, b"\x05", False)
    bus.readfrom(0x20, 2)
    assert (bus.transactions, bus.bytes_written, bus.bytes_read) == (2, 2, 6)
    bus.writeto_mem(0x20, 1, b"\x00\x00")
    assert (bus.transactions, bus.bytes_written) == (3, 5)
    bus.reset_counters()
    assert (bus.transactions, bus.bytes_written, bus.bytes_read) == (0, 0, 0)


def test_scan_lists_attached_addresses_and_probes_every_one():
    bus, m = regbus()
    bus.attach(0x77, Echo())
    assert bus.scan() == [0x20, 0x77]
    assert bus.transactions == 0x78 - 0x08
    assert addresses(bus) == [0x20, 0x77]
    bus.detach(0x77)
    assert addresses(bus) == [0x20]
    with raises(ValueError, "0x78"):
        bus.attach(0x78, Echo())


def test_busio_style_calls_and_lock():
    bus, m = regbus()
    assert bus.try_lock()
    assert not bus.try_lock()
    inb = bytearray(4)
    bus.writeto_then_readfrom(0x20, b"\x00\x08\x00", inb, out_start=1, out_end=2, in_start=1, in_end=3)
    assert inb == b"\x00\x08\x09\x00"
    bus.unlock()
    assert bus.try_lock()
    bus.unlock()


def test_i2cdevice_over_simbus():
    bus, m = regbus()
    d = I2CDevice(bus, 0x20, "TEST")
    buf = bytearray(2)
    d.read_reg_into(0x10, buf)
    assert buf == b"\x10\x11"
    d.write_reg(0x10, b"\x01\x02")
    d.read_reg_into(0x10, buf)
    assert buf == b"\x01\x02"
    bus.reset_counters()
    d.write_then_read_into(b"\x20", buf)
    assert buf == b"\x20\x21" and bus.transactions == 1
    d.write(b"\x30")
    d.read_into(buf)
    assert buf == b"\x30\x31" and bus.transactions == 3


def test_sleep_is_virtual_and_models_share_the_bus_clock():
    bus = SimBus()
    m = bus.attach(0x30, Echo())
    t0 = m.now()
    d = I2CDevice(bus, 0x30)
    d.sleep_ms(5000)
    assert 5000 <= m.now() - t0 < 5000 + 1000  # five seconds passed at once
    mine = Echo()
    mine.clock = lambda: 42
    bus.attach(0x31, mine)
    assert mine.now() == 42  # a clock set by a test is kept


def test_register_model_hooks():
    class Cmd(RegisterModel):
        def __init__(self):
            RegisterModel.__init__(self, 16)
            self.seen = []

        def select(self, byte):
            return byte & 0x0F  # command bit 0x80 is not part of the register

        def on_write(self, reg, value):
            self.seen.append((reg, value))

        def on_read(self, reg):
            self.regs[reg] = 0x5A

    bus = SimBus(trace=True)
    c = bus.attach(0x39, Cmd())
    bus.writeto_mem(0x39, 0x8E, b"\x01\x02\x03")
    assert c.seen == [(14, 1), (15, 2), (0, 3)]
    assert bus.readfrom_mem(0x39, 0x83, 2) == b"\x5a\x00"
    assert bus.log[-2:] == [(0x39, "w", b"\x83"), (0x39, "r", b"\x5a\x00")]
