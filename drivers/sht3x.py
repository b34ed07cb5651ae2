"""SHT3x humidity and temperature sensor (Sensirion SHT30/31/35, I2C 0x44/0x45).

    from drivers.sht3x import SHT3X
    sensor = SHT3X(i2c, repeatability="high")
    sensor.read()        # {"temperature": 21.5, "humidity": 45.2}  (C, %RH)

read() is one single-shot command write (no clock stretching), a wait of the
datasheet's maximum measurement duration, and one 6-byte read; both words are
CRC-checked. The SHT3x has no ID register: the status register read with a
valid CRC at construction is the identity probe.
"""
from drivers import SensorError
from drivers.bus import I2CDevice
from drivers.crc import word

# const() for CPython only: MicroPython folds it away when it compiles, and an
# imported name would take a slot of this module's globals in the loop's heap.
if __import__("sys").implementation.name != "micropython":
    const = int


class SHT3X(I2CDevice):
    CHIP = "SHT3x"
    QUANTITIES = ("temperature", "humidity")
    ADDRESSES = (0x44, 0x45)
    _IDENTITY = const(2)  # status word with a valid CRC

    def __init__(self, bus, address=0x44, repeatability="high"):
        # Single shot, clock stretching disabled: 0x2400/0x240B/0x2416 (datasheet table 9).
        if repeatability == "high":
            self._lsb = 0x00
        elif repeatability == "medium":
            self._lsb = 0x0B
        elif repeatability == "low":
            self._lsb = 0x16
        else:
            raise ValueError("SHT3x repeatability must be 'high', 'medium' or 'low'")
        I2CDevice.__init__(self, bus, address)
        self.repeatability = repeatability
        self._buf = buf = bytearray(6)
        # Commands go out of the data buffer: command bytes kept apart would be heap.
        buf[0] = 0xF3   # read status register
        buf[1] = 0x2D
        self.write(memoryview(buf)[:2])
        self.read_into(memoryview(buf)[:3])
        try:
            self.status = word(self, buf, 0, "status", 0xFF)
        except SensorError as e:
            raise self.error("not an SHT3x: status register read gave %s" % str(e).split(": ", 1)[1])

    def read(self):
        buf = self._buf
        lsb = self._lsb
        buf[0] = 0x24
        buf[1] = lsb
        self.write(memoryview(buf)[:2])
        # Maximum measurement duration 15/6/4 ms (datasheet table 4).
        self.sleep_ms(15 if lsb == 0x00 else 6 if lsb == 0x0B else 4)
        self.read_into(buf)
        # Conversion of signal output, datasheet 4.13, after word() checks each CRC.
        # Keywords, not a {"temperature": ...} literal: a name is an interned qstr (and
        # makes the later "temperature" one too), a string over 10 characters a heap object.
        return dict(temperature=-45 + 175 * word(self, buf, 0, "temperature", 0xFF) / 65535,
                    humidity=100 * word(self, buf, 3, "humidity", 0xFF) / 65535)
