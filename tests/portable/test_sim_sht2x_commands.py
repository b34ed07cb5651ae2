# SHT2XModel takes every command of the SHT21 / HTU21D command table and the
# electronic identification code reads (on both interpreters).
MICROPYTHON_MPY = "drivers, self"

from portable_support import raises

from drivers.crc import crc8
from drivers.sim import Nack, SimBus
from drivers.sim.sht2x import SHT2XModel


def test_command_table_and_reset_time():
    bus = SimBus(realtime=False)
    m = bus.attach(0x40, SHT2XModel(temperature=25.0, humidity=40.0))
    for cmd in (0xE3, 0xE5):                      # hold master: the stretch is the wait
        bus.writeto(0x40, bytes((cmd,)))
        d = bus.readfrom(0x40, 3)
        assert crc8(d, 0, 2, 0x00) == d[2] and d[1] & 0x02 == (cmd & 0x04) >> 1
    bus.writeto(0x40, b"\xf3")                    # no hold: 85 ms at 14 bit (table 7)
    bus.sleep_ms(84)
    with raises(Nack):
        bus.readfrom(0x40, 3)
    with raises(Nack):                            # and no command meanwhile
        bus.writeto(0x40, b"\xe7")
    bus.sleep_ms(1)
    assert bus.readfrom(0x40, 3)[1] & 0x02 == 0
    bus.writeto(0x40, b"\xe6\x87")                # resolution 11/11 bits, heater, OTP off
    bus.writeto(0x40, b"\xe7")
    assert bus.readfrom(0x40, 1) == b"\x87"
    bus.writeto(0x40, b"\xfe")                    # soft reset: resolution back, heater kept
    with raises(Nack):
        bus.writeto(0x40, b"\xe7")
    bus.sleep_ms(15)
    bus.writeto(0x40, b"\xe7")
    assert bus.readfrom(0x40, 1) == b"\x06"
    with raises(Nack):
        bus.writeto(0x40, b"\xe0")                # not an SHT2x command


def test_electronic_identification_code():
    bus = SimBus(realtime=False)
    bus.attach(0x40, SHT2XModel(serial=0x00801A2B3C4D5E6F))
    bus.writeto(0x40, b"\xfa\x0f")
    d = bus.readfrom(0x40, 8)
    assert (d[0], d[2], d[4], d[6]) == (0x1A, 0x2B, 0x3C, 0x4D)   # SNB_3..SNB_0
    for i in range(0, 8, 2):
        assert crc8(d, i, i + 1, 0x00) == d[i + 1]
    bus.writeto(0x40, b"\xfc\xc9")
    d = bus.readfrom(0x40, 6)
    assert d[0:2] == b"\x5e\x6f" and d[3:5] == b"\x00\x80"   # SNC, SNA
    assert crc8(d, 0, 2, 0x00) == d[2] and crc8(d, 3, 5, 0x00) == d[5]
