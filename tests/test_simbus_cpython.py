"""CPython-only bus paths: the real smbus2.i2c_msg / i2c_rdwr route and the
busio.I2C route through drivers.bus.I2CDevice, with SimBus underneath seen
through views that expose only one API (so the adapter cannot cheat)."""
import pytest
from hypothesis import given, settings, strategies as st
from smbus2 import i2c_msg

from drivers import SensorError
from drivers import bus as dbus
from drivers import scan as dscan
from drivers.sim import SimBus
from drivers.sim.base import RegisterModel


class SMBusView:
    """Only what smbus2.SMBus has."""

    def __init__(self, sim):
        self._sim = sim

    def i2c_rdwr(self, *msgs):
        for m in msgs:
            assert isinstance(m, i2c_msg)  # the adapter must build real smbus2 messages
        return self._sim.i2c_rdwr(*msgs)

    def read_byte(self, addr, force=None):
        return self._sim.read_byte(addr)

    def close(self):
        pass


class BusioView:
    """Only what busio.I2C has; checks the lock is held around every transfer."""

    def __init__(self, sim):
        self._sim = sim

    def try_lock(self):
        return self._sim.try_lock()

    def unlock(self):
        self._sim.unlock()

    def _held(self):
        assert self._sim._locked, "busio transfer without try_lock()"

    def scan(self):
        self._held()
        return self._sim.scan()

    def writeto(self, addr, buf, *, start=0, end=None):
        self._held()
        self._sim.writeto(addr, buf, start=start, end=end)

    def readfrom_into(self, addr, buf, *, start=0, end=None):
        self._held()
        self._sim.readfrom_into(addr, buf, start=start, end=end)

    def writeto_then_readfrom(self, addr, out, inb, *, out_start=0, out_end=None, in_start=0, in_end=None):
        self._held()
        self._sim.writeto_then_readfrom(addr, out, inb, out_start=out_start, out_end=out_end,
                                        in_start=in_start, in_end=in_end)


def make(view):
    sim = SimBus()
    m = RegisterModel()
    for i in range(256):
        m.regs[i] = (i * 7) & 0xFF
    sim.attach(0x44, m)
    return sim, m, view(sim)


@pytest.mark.parametrize("view", [SMBusView, BusioView])
def test_adapter_paths(view):
    sim, m, bus = make(view)
    d = dbus.I2CDevice(bus, 0x44, "TEST")
    assert type(d.bus).__name__ == {SMBusView: "SMBusAsMachine", BusioView: "BusioAsMachine"}[view]
    buf = bytearray(3)
    d.read_reg_into(0x10, buf)
    assert bytes(buf) == bytes(((0x10 * 7) & 0xFF, (0x11 * 7) & 0xFF, (0x12 * 7) & 0xFF))
    assert (sim.transactions, sim.bytes_written, sim.bytes_read) == (1, 1, 3)
    d.write_reg(0x20, b"\x01\x02")
    assert m.regs[0x20:0x22] == b"\x01\x02"
    d.write(b"\x30")
    d.read_into(buf)
    assert bytes(buf) == m.regs[0x30:0x33]
    d.write_then_read_into(bytearray(b"\x20"), buf)
    assert bytes(buf) == b"\x01\x02" + m.regs[0x22:0x23]
    assert sim.transactions == 5
    assert not sim._locked
    assert dscan.addresses(bus) == [0x44]


@pytest.mark.parametrize("view", [SMBusView, BusioView])
@pytest.mark.parametrize("kind,words", [("nack", "no ACK"), ("timeout", "bus timeout")])
def test_adapter_errors(view, kind, words):
    sim, m, bus = make(view)
    d = dbus.I2CDevice(bus, 0x44, "TEST")
    sim.inject(0x44, kind)
    with pytest.raises(SensorError, match="TEST@0x44: " + words):
        d.read_reg_into(0, bytearray(2))
    assert not sim._locked  # the busio lock is released on error too
    d.read_reg_into(0, bytearray(2))


def test_busio_lock_held_elsewhere_is_reported():
    sim, m, bus = make(BusioView)
    d = dbus.I2CDevice(bus, 0x44, "TEST")
    sim.try_lock()
    with pytest.raises(SensorError, match="locked"):
        d.read_into(bytearray(1))


def test_i2c_msg_read_is_filled_by_simbus():
    sim, m, _ = make(SMBusView)
    w = i2c_msg.write(0x44, [0x05])
    r = i2c_msg.read(0x44, 2)
    sim.i2c_rdwr(w, r)
    assert list(r) == [35, 42]
    assert sim.transactions == 1


def test_adafruit_bus_device_accepts_simbus():
    from adafruit_bus_device.i2c_device import I2CDevice as AdaDevice
    sim, m, _ = make(BusioView)
    dev = AdaDevice(sim, 0x44)  # probes the address like on a real board
    out = bytearray(2)
    with dev:
        dev.write_then_readinto(bytes([0x02]), out)
    assert bytes(out) == b"\x0e\x15"
    with pytest.raises(ValueError):
        AdaDevice(sim, 0x45)


@settings(max_examples=60, deadline=None)
@given(view=st.sampled_from([SMBusView, BusioView]), reg=st.integers(0, 255),
       data=st.binary(min_size=1, max_size=8))
def test_write_then_read_back_property(view, reg, data):
    sim, m, bus = make(view)
    d = dbus.I2CDevice(bus, 0x44)
    d.write_reg(reg, data)
    got = bytearray(len(data))
    d.read_reg_into(reg, got)
    assert bytes(got) == data


def test_smbus_style_calls():
    bus = SimBus()
    m = bus.attach(0x20, RegisterModel())
    for i in range(256):
        m.regs[i] = i
    assert bus.read_byte_data(0x20, 0x21) == 0x21
    bus.write_byte_data(0x20, 0x21, 0x99)
    assert m.regs[0x21] == 0x99
    assert bus.read_word_data(0x20, 0x40) == 0x4140  # low byte first
    bus.write_word_data(0x20, 0x40, 0x1234)
    assert m.regs[0x40] == 0x34 and m.regs[0x41] == 0x12
    assert bus.read_i2c_block_data(0x20, 0x50, 3) == [0x50, 0x51, 0x52]
    bus.write_i2c_block_data(0x20, 0x50, [1, 2])
    assert m.regs[0x50] == 1 and m.regs[0x51] == 2
    bus.write_byte(0x20, 0x70)
    assert bus.read_byte(0x20) == 0x70
