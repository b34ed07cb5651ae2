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

Drivers subclass I2CDevice rather than hold one. Their code can run from
flash (frozen, or .mpy in a ROMFS image); what stays in the heap for as long
as a driver lives is its objects: one instance instead of two saves an object
and an attribute table, and every attribute costs a slot. For the same
reason the code avoids constant tuples, floats, bytes and strings of over 10
characters (each is a heap object; shorter strings are interned qstrs):
tables are worked out, messages share their format strings.
"""
import time

from drivers import SensorError


def describe(e):
    """'no ACK (errno 19)', 'bus timeout (errno 110)' or 'bus error ...'."""
    n = e.args[0] if e.args else None
    # Comparisons, not `n in (...)`: a constant tuple is a heap object.
    if n == 110 or n == 116 or "Timeout" in type(e).__name__:
        return "bus timeout (errno %s)" % n
    if n == 19 or n == 5 or n == 6 or n == 121:
        return "no ACK (errno %s)" % n
    return "bus error %r" % (e,)


class I2CDevice:
    # A driver may give a transfer name its own meaning (MCP47X6.write(code)):
    # the transfers below never call one another through self.
    CHIP = "I2C"

    def __init__(self, bus, address, chip=None):
        try:
            # An attribute, not hasattr(bus, "readfrom_mem_into"): a name is a qstr,
            # a string of over 10 characters a heap object.
            bus.readfrom_mem_into
        except AttributeError:
            if hasattr(bus, "i2c_rdwr"):
                from drivers._smbus import SMBusAsMachine as wrap
            elif hasattr(bus, "try_lock"):
                from drivers._busio import BusioAsMachine as wrap
            else:
                raise TypeError("not an I2C bus: %r" % (bus,))
            bus = wrap(bus)
        self.bus = bus
        self.address = address
        if chip:
            self.CHIP = chip

    def error(self, what):
        return SensorError("%s@0x%02x: %s" % (self.CHIP, self.address, what))

    def read_reg_into(self, reg, buf):
        """Write the register pointer, repeated start, read len(buf) bytes."""
        try:
            self.bus.readfrom_mem_into(self.address, reg, buf)
        except OSError as e:
            raise self.error("%s %s register 0x%02x" % (describe(e), "reading", reg))

    def write_reg(self, reg, data):
        """One write transaction: register byte then data bytes."""
        try:
            self.bus.writeto_mem(self.address, reg, data)
        except OSError as e:
            raise self.error("%s %s register 0x%02x" % (describe(e), "writing", reg))

    def write(self, data):
        """One plain write transaction (e.g. a 16-bit command)."""
        try:
            self.bus.writeto(self.address, data)
        except OSError as e:
            raise self.error("%s %s %d bytes" % (describe(e), "writing", len(data)))

    def read_into(self, buf):
        """One plain read transaction of len(buf) bytes."""
        try:
            self.bus.readfrom_into(self.address, buf)
        except OSError as e:
            raise self.error("%s %s %d bytes" % (describe(e), "reading", len(buf)))

    def write_then_read_into(self, out, buf):
        """Write out, repeated start, read len(buf) bytes: one transaction."""
        try:
            self.bus.writeto(self.address, out, False)
            self.bus.readfrom_into(self.address, buf)
        except OSError as e:
            raise self.error("%s %s %d bytes" % (describe(e), "in write-then-read of", len(buf)))

    def sleep_ms(self, ms):
        # Looked up per call, not kept: an attribute would cost every instance a slot.
        s = getattr(self.bus, "sleep_ms", None) or getattr(time, "sleep_ms", None)
        if s:
            s(ms)
        else:
            time.sleep(ms / 1000)

