# MCP47x6 DAC driver against its register-level model, on both interpreters.
MICROPYTHON_MPY = "drivers, self"

from portable_support import raises

from drivers import SensorError
from drivers.mcp47x6 import MCP47X6
from drivers.sim import SimBus
from drivers.sim.base import Model
from drivers.sim.mcp47x6 import MCP47X6Model


def setup(bits=12, address=0x60, trace=False, **kw):
    bus = SimBus(trace, realtime=False)
    model = bus.attach(address, MCP47X6Model(bits, **kw))
    return bus, model, MCP47X6(bus, address, bits)


def test_round_trip_at_every_resolution():
    for bits in (8, 10, 12):
        drop = 12 - bits
        bus, model, dac = setup(bits, code=(1 << bits) - 1)
        assert dac.code == 4095 >> drop << drop  # read at construction
        for code in (0, 1, 5, 2047, 2048, 4095):
            dac.write(code)
            want = code >> drop << drop
            assert model.dac == code >> drop, (bits, code, model.dac)
            assert dac.code == want
            assert dac.read() == {"code": want, "eeprom": 4095 >> drop << drop}, (bits, code)


def test_fast_write_and_read_on_the_wire():
    # 0xABC: MCP4726 0x0ABC, MCP4716 D9..D0 = 0x2AF in b11..b2, MCP4706 D7..D0 = 0xAB in b7..b0.
    for bits, wire in ((12, b"\x0a\xbc"), (10, b"\x0a\xbc"), (8, b"\x00\xab")):
        bus, model, dac = setup(bits, 0x67, True)
        bus.reset_counters()
        del bus.log[:]
        dac.write(0xABC)
        assert bus.log == [(0x67, "w", wire)]
        assert bus.transactions == 1
        dac.read()
        assert (bus.transactions, bus.bytes_read) == (2, 6)
    assert dac.QUANTITIES == () and dac.CHIP == "MCP47x6" and 0x60 in dac.ADDRESSES


def test_out_of_range_codes_and_bits_are_refused():
    bus, model, dac = setup()
    dac.write(1000)
    for code in (-1, 4096, 65535):
        with raises(ValueError, "0..4095"):
            dac.write(code)
    assert model.dac == 1000 and dac.code == 1000
    with raises(ValueError, "bits"):
        MCP47X6(bus, 0x60, 9)


class Answer(Model):
    def __init__(self, data):
        self.data = data

    def read(self, n):
        return self.data


def test_identity_check_refuses_other_answers():
    bus = SimBus()
    bus.attach(0x60, Model())  # acknowledges, then releases SDA: all 0xFF
    with raises(SensorError, "MCP47x6@0x60: not an MCP47x6: read gave ff ff ff"):
        MCP47X6(bus)
    bus.attach(0x60, Answer(bytes(6)))  # POR bit clear
    with raises(SensorError, "not an MCP47x6"):
        MCP47X6(bus)
    bus.attach(0x60, Answer(b"\xc0\x80\x08\xe0\x00\x00"))  # an unused LSB of the 12-bit word set
    with raises(SensorError, "read gave c0 80 08"):
        MCP47X6(bus)
    bus.attach(0x60, Answer(b"\xc0\x80\xe0\x00\xc0\x80"))  # MCP4706: 4 bytes, repeated
    assert MCP47X6(bus, bits=8).code == 0x800
    bus.attach(0x60, Answer(b"\xc0\x80\xe0\x00\xc0\x81"))  # ... not repeated
    with raises(SensorError, "not an MCP47x6"):
        MCP47X6(bus, bits=8)


def test_bus_faults_raise_sensor_error():
    bus, model, dac = setup(address=0x61)
    dac.write(100)
    bus.inject(0x61, "nack")
    with raises(SensorError, "MCP47x6@0x61: no ACK"):
        dac.write(200)
    assert model.dac == 100 and dac.code == 100  # nothing written, nothing recorded
    bus.inject(0x61, "timeout")
    with raises(SensorError, "MCP47x6@0x61: bus timeout"):
        dac.read()
    bus.inject(0x61, "corrupt")  # flips bits of the last byte: unused LSBs
    with raises(SensorError, "MCP47x6@0x61: read does not fit"):
        dac.read()
    bus.clear_faults()
    assert dac.read()["code"] == 100
    with raises(SensorError, "MCP47x6@0x62: no ACK"):
        MCP47X6(bus, 0x62)
    bus, model, dac = setup(8)
    bus.inject(0x60, "corrupt")  # on an MCP4706 the repeated data byte no longer matches
    with raises(SensorError, "read does not fit"):
        dac.read()


def test_model_output_follows_the_code():
    bus, model, dac = setup(10)
    for code in (0, 1024, 2048, 4095):
        dac.write(code)
        assert model.output() == (code >> 2) / 1024
    bus.writeto(0x60, b"\x86")  # Write Volatile Configuration: PD1:PD0 = 11, power-down
    assert model.output() == 0.0
    dac.write(2048)  # a fast write with PD1:PD0 = 00 wakes it up
    assert model.output() == 0.5
    bus.writeto(0x60, b"\x99")  # VREF pin buffered, gain 2x
    assert model.output() == 1.0


def test_write_all_memory_eeprom_and_reset():
    bus, model, dac = setup(12)
    bus.writeto(0x60, b"\x60\x80\x00")  # Write All Memory: VDD, normal, 1x, code 0x800
    assert dac.read() == {"code": 2048, "eeprom": 2048}
    assert bus.readfrom(0x60, 1)[0] & 0x80 == 0  # RDY/BSY low during the EEPROM write
    with raises(OSError):
        bus.writeto(0x60, b"\x60\x40\x00")  # another one is refused meanwhile
    dac.write(100)  # volatile writes are allowed
    bus.sleep_ms(50)
    assert bus.readfrom(0x60, 1)[0] & 0x80
    bus.writeto(0x60, b"\x40\x10\x00\x00")  # Write Volatile Memory, then an aborted group
    assert dac.read() == {"code": 0x100, "eeprom": 2048}
    model.reset()  # General Call Reset: EEPROM -> DAC register
    assert dac.read()["code"] == 2048
