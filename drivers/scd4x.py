"""SCD4x CO2, temperature and humidity sensor (Sensirion SCD40/SCD41, I2C 0x62).

    from drivers.scd4x import SCD4X
    sensor = SCD4X(i2c)                    # periodic mode: a sample every 5 s
    sensor.read()      # {"co2": 612, "temperature": 21.5, "humidity": 45.2}
    SCD4X(i2c, mode="single")              # SCD41 only: one 5 s shot per read()

Construction stops any running measurement (the chip may have kept running
across an MCU reset) and reads the serial number, whose three CRC-checked words
are the identity probe. In periodic mode read() polls get_data_ready_status and
waits for the next sample instead of reading a NACKed or stale buffer.
"""
from drivers import SensorError
from drivers.bus import I2CDevice
from drivers.crc import word

# Commands (SCD4x datasheet table 9) with their execution times in ms.
_START = b"\x21\xb1"
_READ = b"\xec\x05"      # 1 ms
_STOP = b"\x3f\x86"      # 500 ms
_READY = b"\xe4\xb8"     # 1 ms
_SERIAL = b"\x36\x82"    # 1 ms
_SINGLE = b"\x21\x9d"    # 5000 ms, SCD41 only
_POLL_MS = 500
_POLLS = 12              # 6 s: more than one 5 s signal update interval
MODES = ("periodic", "single")


class SCD4X:
    CHIP = "SCD4x"
    QUANTITIES = ("co2", "temperature", "humidity")
    ADDRESSES = (0x62,)

    def __init__(self, bus, address=0x62, mode="periodic"):
        if mode not in MODES:
            raise ValueError("SCD4x mode must be one of %r" % (MODES,))
        self.address = address
        self.mode = mode
        self._dev = dev = I2CDevice(bus, address, "SCD4x")
        self._buf = buf = bytearray(9)
        self._word = memoryview(buf)[:3]
        dev.write(_STOP)
        dev.sleep_ms(500)
        dev.write(_SERIAL)
        dev.sleep_ms(1)
        dev.read_into(buf)
        try:
            serial = 0
            for i in (0, 3, 6):
                serial = (serial << 16) | word(dev, buf, i, "serial number")
        except SensorError as e:
            raise dev.error("not an SCD4x: " + str(e).split(": ", 1)[1])
        self.serial = serial
        if mode == "periodic":
            dev.write(_START)

    def ready(self):
        """True when a periodic sample waits in the chip's buffer."""
        dev = self._dev
        dev.write(_READY)
        dev.sleep_ms(1)
        dev.read_into(self._word)
        # Data ready when the 11 least significant bits are not all 0 (datasheet 3.8.2).
        return word(dev, self._buf, 0, "data ready status") & 0x07FF != 0

    def read(self):
        dev = self._dev
        if self.mode == "single":
            dev.write(_SINGLE)
            dev.sleep_ms(5000)
        else:
            for _ in range(_POLLS):
                if self.ready():
                    break
                dev.sleep_ms(_POLL_MS)
            else:
                raise dev.error("no data ready after %d ms (status word 0x%02x%02x)"
                                % (_POLLS * _POLL_MS, self._buf[0], self._buf[1]))
        buf = self._buf
        dev.write(_READ)
        dev.sleep_ms(1)
        dev.read_into(buf)
        co2 = word(dev, buf, 0, "CO2")
        st = word(dev, buf, 3, "temperature")
        srh = word(dev, buf, 6, "humidity")
        if co2 > 40000:  # output range 0-40000 ppm (datasheet table 1)
            raise dev.error("CO2 raw value %d ppm is out of range" % co2)
        # read_measurement conversion, datasheet 3.5.2.
        return {"co2": co2, "temperature": -45 + 175 * st / 65535, "humidity": 100 * srh / 65535}
