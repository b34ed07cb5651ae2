"""The chips on the Pi's I2C bus: found by the firmware's drivers.scan over
smbus2 (the same identification), then TSL2591 and BME280 read through the
Adafruit CircuitPython drivers over Blinka's busio (the Pi card's packages),
every other chip through its drivers/ driver. Every reader has CHIP, address,
QUANTITIES and read() -> {quantity: value}, as drivers/ drivers do."""
import logging
import time

from drivers import SensorError
from drivers.scan import scan

log = logging.getLogger("rpi_agent.chips")


class AdafruitTSL2591:
    CHIP = "TSL2591"
    QUANTITIES = ("lux",)
    SOURCE = "adafruit_tsl2591"

    def __init__(self, i2c, address):
        import adafruit_tsl2591
        self.address = address
        self.sensor = adafruit_tsl2591.TSL2591(i2c, address)
        # Its driver reads without waiting for the ADC (AVALID): let the first
        # integration (100 ms per ATIME step) finish, or the first lux is 0.
        ms = (self.sensor.integration_time + 1) * 100 + 5
        sleep = getattr(i2c, "sleep_ms", None)
        sleep(ms) if sleep else time.sleep(ms / 1000)

    def read(self):
        try:
            return {"lux": self.sensor.lux}
        except (OSError, RuntimeError) as e:  # RuntimeError: the channel overflowed
            raise SensorError("TSL2591@0x%02x: %s" % (self.address, e))


class AdafruitBME280:
    CHIP = "BME280"
    QUANTITIES = ("temperature", "humidity", "pressure")
    SOURCE = "adafruit_bme280"

    def __init__(self, i2c, address):
        from adafruit_bme280 import basic
        self.address = address
        self.sensor = basic.Adafruit_BME280_I2C(i2c, address)

    def read(self):
        s = self.sensor
        try:
            return {"temperature": s.temperature, "humidity": s.relative_humidity, "pressure": s.pressure}
        except (OSError, RuntimeError) as e:
            raise SensorError("BME280@0x%02x: %s" % (self.address, e))


ADAFRUIT = {"TSL2591": AdafruitTSL2591, "BME280": AdafruitBME280}


def find(hw, unknown=None):
    """Readers for the identified chips, by address."""
    if hw.smbus is None:
        return []
    found = []
    for d in scan(hw.smbus, unknown):
        cls = ADAFRUIT.get(d.CHIP) if hw.busio is not None else None
        if cls is not None:
            try:
                found.append(cls(hw.busio, d.address))
                continue
            except Exception as e:  # Adafruit package missing or refusing: our driver still reads it
                log.warning("%s@0x%02x: Adafruit driver unavailable (%s): using drivers/", d.CHIP, d.address, e)
        found.append(d)
    return found
