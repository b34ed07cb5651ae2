"""One small adapter so a driver talks to any I2C bus object the same way.

Accepted buses, told apart once by duck typing:
  machine.I2C / SoftI2C (MicroPython)   has readfrom_mem_into: used as is
  drivers.sim.SimBus                    speaks all three APIs: used as machine.I2C
  smbus2.SMBus (Linux, Raspberry Pi)    has i2c_rdwr: wrapped by drivers/_smbus.py
  busio.I2C-style (CircuitPython/Blinka) has writeto_then_readfrom: drivers/_busio.py
The wrappers give the other two the machine.I2C calls I2CDevice uses, and are
imported only when needed, so a MicroPython board loads none of them.

Every bus error (OSError of any port, timeouts) becomes drivers.SensorError
naming the chip and the address, and saying NACK or timeout from the errno:
ENODEV 19 (MicroPython address NACK), EIO 5, ENXIO 6, EREMOTEIO 121 (Linux
i2c-dev), ETIMEDOUT 110 (116 on some MicroPython ports). A bus object may offer
sleep_ms(ms): SimBus does, so conversion waits cost no wall-clock time in tests;
real buses fall back to time.sleep_ms / time.sleep.
"""
import time

from drivers import SensorError


def _sleep_ms(ms):
    time.sleep(ms / 1000)


def describe(e):
    """'no ACK (errno 19)', 'bus timeout (errno 110)' or 'bus error ...'."""
    n = e.args[0] if e.args else None
    if n in (110, 116) or type(e).__name__ == "TimeoutError":
        return "bus timeout (errno %s)" % n
    if n in (19, 6, 5, 121):
        return "no ACK (errno %s)" % n
    return "bus error %r" % (e,)


def machine_like(bus):
    """The bus itself, or a wrapper giving it the machine.I2C calls we use."""
    if hasattr(bus, "readfrom_mem_into"):
        return bus
    if hasattr(bus, "i2c_rdwr"):
        from drivers._smbus import SMBusAsMachine
        return SMBusAsMachine(bus)
    if hasattr(bus, "try_lock"):
        from drivers._busio import BusioAsMachine
        return BusioAsMachine(bus)
    raise TypeError("not an I2C bus: %r" % (bus,))


class I2CDevice:
    def __init__(self, bus, address, chip="I2C"):
        self.bus = machine_like(bus)
        self.address = address
        self.chip = chip
        self.sleep_ms = getattr(bus, "sleep_ms", None) or getattr(time, "sleep_ms", _sleep_ms)

    def error(self, what):
        return SensorError("%s@0x%02x: %s" % (self.chip, self.address, what))

    def _fail(self, e, doing):
        return self.error(describe(e) + " " + doing)

    def read_reg_into(self, reg, buf):
        """Write the register pointer, repeated start, read len(buf) bytes."""
        try:
            self.bus.readfrom_mem_into(self.address, reg, buf)
        except OSError as e:
            raise self._fail(e, "reading register 0x%02x" % reg)

    def write_reg(self, reg, data):
        """One write transaction: register byte then data bytes."""
        try:
            self.bus.writeto_mem(self.address, reg, data)
        except OSError as e:
            raise self._fail(e, "writing register 0x%02x" % reg)

    def write(self, data):
        """One plain write transaction (e.g. a 16-bit command)."""
        try:
            self.bus.writeto(self.address, data)
        except OSError as e:
            raise self._fail(e, "writing %d bytes" % len(data))

    def read_into(self, buf):
        """One plain read transaction of len(buf) bytes."""
        try:
            self.bus.readfrom_into(self.address, buf)
        except OSError as e:
            raise self._fail(e, "reading %d bytes" % len(buf))

    def write_then_read_into(self, out, buf):
        """Write out, repeated start, read len(buf) bytes: one transaction."""
        try:
            self.bus.writeto(self.address, out, False)
            self.bus.readfrom_into(self.address, buf)
        except OSError as e:
            raise self._fail(e, "in write-then-read of %d bytes" % len(buf))


def scan(bus):
    """Addresses (7-bit ints, ascending) that ACK on the bus. A bus that cannot
    be scanned at all (SDA held low, controller timeout) raises SensorError."""
    try:
        return sorted(machine_like(bus).scan())
    except OSError as e:
        raise SensorError("I2C bus: %s during scan" % describe(e))
