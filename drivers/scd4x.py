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

try:
    from micropython import const
except ImportError:
    const = int

_POLL_MS = const(500)
_POLLS = const(12)       # 6 s: more than one 5 s signal update interval


class SCD4X(I2CDevice):
    CHIP = "SCD4x"
    QUANTITIES = ("co2", "temperature", "humidity")
    ADDRESSES = (0x62,)
    _IDENTITY = const(3)  # 48-bit serial number, each word CRC-checked

    def __init__(self, bus, address=0x62, mode="periodic"):
        if mode != "periodic" and mode != "single":
            raise ValueError("SCD4x mode must be 'periodic' or 'single'")
        I2CDevice.__init__(self, bus, address)
        self.mode = mode
        self._buf = buf = bytearray(9)
        self._command(0x3F86, 500)   # stop_periodic_measurement
        self._command(0x3682, 1)     # get_serial_number
        self.read_into(buf)
        try:
            serial = 0
            for i in range(0, 9, 3):
                serial = (serial << 16) | word(self, buf, i, "serial number", 0xFF)
        except SensorError as e:
            raise self.error("not an SCD4x: " + str(e).split(": ", 1)[1])
        self.serial = serial
        if mode == "periodic":
            self._command(0x21B1, 0)   # start_periodic_measurement

    def _command(self, code, ms):
        # Commands (datasheet table 9) go out of the data buffer, then their
        # execution time passes: constant command bytes would be heap objects.
        buf = self._buf
        buf[0] = code >> 8
        buf[1] = code & 0xFF
        self.write(memoryview(buf)[:2])
        if ms:
            self.sleep_ms(ms)

    def ready(self):
        """True when a periodic sample waits in the chip's buffer."""
        self._command(0xE4B8, 1)     # get_data_ready_status
        self.read_into(memoryview(self._buf)[:3])
        # Data ready when the 11 least significant bits are not all 0 (datasheet 3.8.2).
        return word(self, self._buf, 0, "data ready status", 0xFF) & 0x07FF != 0

    def read(self):
        if self.mode == "single":
            self._command(0x219D, 5000)   # measure_single_shot (SCD41)
        else:
            for _ in range(_POLLS):
                if self.ready():
                    break
                self.sleep_ms(_POLL_MS)
            else:
                raise self.error("no data ready after %d ms (status word 0x%02x%02x)"
                                 % (_POLLS * _POLL_MS, self._buf[0], self._buf[1]))
        buf = self._buf
        self._command(0xEC05, 1)     # read_measurement
        self.read_into(buf)
        co2 = word(self, buf, 0, "CO2", 0xFF)
        st = word(self, buf, 3, "temperature", 0xFF)
        srh = word(self, buf, 6, "humidity", 0xFF)
        if co2 > 40000:  # output range 0-40000 ppm (datasheet table 1)
            raise self.error("CO2 raw value %d ppm is out of range" % co2)
        # read_measurement conversion, datasheet 3.5.2.
        return {"co2": co2, "temperature": -45 + 175 * st / 65535, "humidity": 100 * srh / 65535}
