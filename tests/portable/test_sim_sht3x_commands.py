# SHT3XModel takes every command of the SHT3x-DIS command tables and NACKs only
# where the datasheet says the chip does (on both interpreters).
MICROPYTHON_MPY = "drivers, self"

from portable_support import raises

from drivers.crc import crc8
from drivers.sim import Nack, SimBus
from drivers.sim.sht3x import SHT3XModel

# Tables 9 (single shot), 10 (periodic), 11 fetch, 12 ART, 13 break, 14 soft reset,
# 16 heater, 17 status, 19 clear status; serial number (identification code note).
COMMANDS = (b"\x24\x00\x24\x0b\x24\x16\x2c\x06\x2c\x0d\x2c\x10"
            b"\x20\x32\x20\x24\x20\x2f\x21\x30\x21\x26\x21\x2d\x22\x36\x22\x20\x22\x2b"
            b"\x23\x34\x23\x22\x23\x29\x27\x37\x27\x21\x27\x2a\xe0\x00\x2b\x32\x30\x93"
            b"\x30\xa2\x30\x6d\x30\x66\xf3\x2d\x30\x41\x37\x80\x36\x82")


def status(bus):
    bus.writeto(0x44, b"\xf3\x2d")
    d = bus.readfrom(0x44, 3)
    assert crc8(d, 0, 2, 0xFF) == d[2]
    return (d[0] << 8) | d[1]


def words(bus, n):
    d = bus.readfrom(0x44, 3 * n)
    for i in range(0, 3 * n, 3):
        assert crc8(d, i, i + 2, 0xFF) == d[i + 2], d
    return [(d[i] << 8) | d[i + 1] for i in range(0, 3 * n, 3)]


def test_every_datasheet_command_is_acknowledged():
    bus = SimBus(realtime=False)
    m = bus.attach(0x44, SHT3XModel())
    for i in range(0, len(COMMANDS), 2):
        bus.writeto(0x44, COMMANDS[i:i + 2])    # raises Nack if refused
        bus.sleep_ms(16)                        # past any single shot's duration
        assert status(bus) & 0x0002 == 0, COMMANDS[i:i + 2]
    assert len(m.commands) == 8


def test_unknown_command_is_nacked_and_flagged_until_the_next_command():
    bus = SimBus(realtime=False)
    bus.attach(0x44, SHT3XModel())
    with raises(Nack):
        bus.writeto(0x44, b"\x30\x3e")
    assert status(bus) == 0x8012                 # bit 1: last command not processed
    assert status(bus) == 0x8012                 # a status read does not change it
    bus.writeto(0x44, b"\x30\x41")               # clear status: bits 15, 11, 10, 4
    assert status(bus) == 0x0000


def test_heater_soft_reset_and_serial_number():
    bus = SimBus(realtime=False)
    m = bus.attach(0x44, SHT3XModel(serial=0x0C8E5A3B))
    bus.writeto(0x44, b"\x30\x41")
    bus.writeto(0x44, b"\x30\x6d")
    assert status(bus) == 0x2000
    bus.writeto(0x44, b"\x30\x66")
    assert status(bus) == 0x0000
    bus.writeto(0x44, b"\x30\x6d")
    bus.writeto(0x44, b"\x21\x30")               # periodic 1 mps, then a soft reset
    bus.writeto(0x44, b"\x30\xa2")
    assert status(bus) == 0x8010                 # heater off, reset detected
    bus.sleep_ms(2000)
    bus.writeto(0x44, b"\xe0\x00")
    with raises(Nack):                           # the reset ended periodic mode
        bus.readfrom(0x44, 6)
    for cmd in (b"\x37\x80", b"\x36\x82"):
        bus.writeto(0x44, cmd)
        assert words(bus, 2) == [0x0C8E, 0x5A3B]


def test_single_shot_with_and_without_clock_stretching():
    bus = SimBus(realtime=False)
    m = bus.attach(0x44, SHT3XModel(temperature=25.0, humidity=40.0))
    bus.writeto(0x44, b"\x2c\x06")               # stretching: the read header waits for it
    assert words(bus, 2) == [0x6666, 0x6666]     # 25 C and 40 %RH: both 0.4 x 65535 (datasheet 4.13)
    bus.writeto(0x44, b"\x24\x16")               # low repeatability, no stretching: 4 ms
    bus.sleep_ms(3)
    with raises(Nack):
        bus.readfrom(0x44, 6)
    bus.sleep_ms(1)
    assert words(bus, 2) == [0x6666, 0x6666]


def test_periodic_acquisition_fetch_and_break():
    bus = SimBus(realtime=False)
    m = bus.attach(0x44, SHT3XModel(temperature=25.0, humidity=40.0))
    bus.writeto(0x44, b"\x21\x30")               # 1 mps, high repeatability: 15 ms each
    bus.sleep_ms(14)
    bus.writeto(0x44, b"\xe0\x00")
    with raises(Nack):                           # no data yet: read header NACKed
        bus.readfrom(0x44, 6)
    bus.sleep_ms(1)
    bus.writeto(0x44, b"\xe0\x00")
    assert words(bus, 2) == [0x6666, 0x6666]
    bus.writeto(0x44, b"\xe0\x00")
    with raises(Nack):                           # fetching cleared the data memory
        bus.readfrom(0x44, 6)
    m.temperature = -45.0
    bus.sleep_ms(1000)                           # the next result, a period later
    bus.writeto(0x44, b"\xe0\x00")
    assert words(bus, 2) == [0x0000, 0x6666]
    bus.writeto(0x44, b"\x2b\x32")               # ART: 4 Hz
    bus.sleep_ms(15)
    bus.writeto(0x44, b"\xe0\x00")
    words(bus, 2)
    bus.sleep_ms(250)
    bus.writeto(0x44, b"\xe0\x00")
    words(bus, 2)
    bus.writeto(0x44, b"\x30\x93")               # break: single shot mode again
    bus.sleep_ms(1000)
    bus.writeto(0x44, b"\xe0\x00")
    with raises(Nack):
        bus.readfrom(0x44, 6)
