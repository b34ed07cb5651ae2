"""One small adapter so a driver talks to any I2C bus object the same way.

Accepted buses, told apart once by duck typing:
  machine.I2C / SoftI2C (MicroPython)  has readfrom_mem_into
  smbus2.SMBus (Linux, Raspberry Pi)    has i2c_rdwr
  busio.I2C-style (CircuitPython/Blinka) has writeto_then_readfrom + try_lock
  drivers.sim.SimBus                    speaks all three; the machine.I2C path is used

Every bus error (OSError of any port, timeouts) becomes drivers.SensorError
naming the chip and the address, so drivers need no per-port except clauses.
A bus object may offer sleep_ms(ms): SimBus does, so conversion waits cost no
wall-clock time in tests; real buses fall back to time.sleep_ms / time.sleep.
"""
import time

from drivers import SensorError

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_MACHINE = const(0)
_SMBUS = const(1)
_BUSIO = const(2)

# errno values of the ports we run on: ENODEV 19 (MicroPython address NACK),
# EIO 5, ENXIO 6 and EREMOTEIO 121 (Linux i2c-dev NACK), ETIMEDOUT 110/116.
_TIMEOUTS = (110, 116)

if hasattr(time, "sleep_ms"):
    _sleep_ms = time.sleep_ms
else:
    def _sleep_ms(ms):
        time.sleep(ms / 1000)


def _errno(exc):
    n = getattr(exc, "errno", None)
    if n is None and exc.args and isinstance(exc.args[0], int):
        n = exc.args[0]
    return n


def describe(exc):
    """Human wording for a bus OSError: NACK vs timeout vs other."""
    n = _errno(exc)
    if n in _TIMEOUTS or type(exc).__name__ == "TimeoutError":
        return "bus timeout (errno %s)" % n
    if n in (19, 6, 5, 121):
        return "no ACK (errno %s)" % n
    return "bus error %r" % (exc,)


def _kind(bus):
    if hasattr(bus, "readfrom_mem_into"):
        return _MACHINE
    if hasattr(bus, "i2c_rdwr"):
        return _SMBUS
    if hasattr(bus, "writeto_then_readfrom") and hasattr(bus, "try_lock"):
        return _BUSIO
    raise TypeError("not an I2C bus (machine.I2C, smbus2.SMBus or busio.I2C): %r" % (bus,))


class I2CDevice:
    def __init__(self, bus, address, chip="I2C"):
        self.bus = bus
        self.address = address
        self.chip = chip
        self._kind = _kind(bus)
        self._reg = bytearray(1)
        self.sleep_ms = getattr(bus, "sleep_ms", None) or _sleep_ms
        if self._kind == _SMBUS:
            from smbus2 import i2c_msg  # only ever on CPython
            self._msg = i2c_msg

    def error(self, what):
        return SensorError("%s@0x%02x: %s" % (self.chip, self.address, what))

    def _bus_error(self, exc, doing):
        return self.error("%s %s" % (describe(exc), doing))

    def _lock(self):
        bus = self.bus
        for _ in range(1000):
            if bus.try_lock():
                return
        raise self.error("bus stays locked by someone else")

    def read_reg_into(self, reg, buf):
        """Write the register pointer, repeated start, read len(buf) bytes."""
        a = self.address
        try:
            if self._kind == _MACHINE:
                self.bus.readfrom_mem_into(a, reg, buf)
            elif self._kind == _SMBUS:
                m = self._msg
                r = m.read(a, len(buf))
                self.bus.i2c_rdwr(m.write(a, (reg,)), r)
                buf[:] = bytes(r)
            else:
                self._reg[0] = reg
                self._lock()
                try:
                    self.bus.writeto_then_readfrom(a, self._reg, buf)
                finally:
                    self.bus.unlock()
        except OSError as e:
            raise self._bus_error(e, "reading register 0x%02x" % reg)

    def write_reg(self, reg, data):
        """One write transaction: register byte then data bytes."""
        a = self.address
        try:
            if self._kind == _MACHINE:
                self.bus.writeto_mem(a, reg, data)
            else:
                out = bytearray(1 + len(data))
                out[0] = reg
                out[1:] = data
                self._write(out)
        except OSError as e:
            raise self._bus_error(e, "writing register 0x%02x" % reg)

    def _write(self, data):
        a = self.address
        if self._kind == _MACHINE:
            self.bus.writeto(a, data)
        elif self._kind == _SMBUS:
            self.bus.i2c_rdwr(self._msg.write(a, data))
        else:
            self._lock()
            try:
                self.bus.writeto(a, data)
            finally:
                self.bus.unlock()

    def write(self, data):
        """One plain write transaction (e.g. a 16-bit command)."""
        try:
            self._write(data)
        except OSError as e:
            raise self._bus_error(e, "writing %d bytes" % len(data))

    def read_into(self, buf):
        """One plain read transaction of len(buf) bytes."""
        a = self.address
        try:
            if self._kind == _MACHINE:
                self.bus.readfrom_into(a, buf)
            elif self._kind == _SMBUS:
                r = self._msg.read(a, len(buf))
                self.bus.i2c_rdwr(r)
                buf[:] = bytes(r)
            else:
                self._lock()
                try:
                    self.bus.readfrom_into(a, buf)
                finally:
                    self.bus.unlock()
        except OSError as e:
            raise self._bus_error(e, "reading %d bytes" % len(buf))

    def write_then_read_into(self, out, buf):
        """Write out, repeated start, read len(buf) bytes: one transaction."""
        a = self.address
        try:
            if self._kind == _MACHINE:
                self.bus.writeto(a, out, False)
                self.bus.readfrom_into(a, buf)
            elif self._kind == _SMBUS:
                m = self._msg
                r = m.read(a, len(buf))
                self.bus.i2c_rdwr(m.write(a, out), r)
                buf[:] = bytes(r)
            else:
                self._lock()
                try:
                    self.bus.writeto_then_readfrom(a, out, buf)
                finally:
                    self.bus.unlock()
        except OSError as e:
            raise self._bus_error(e, "in write-then-read")


def scan(bus):
    """Addresses (7-bit ints, ascending) that ACK on the bus."""
    kind = _kind(bus)
    if kind == _MACHINE:
        return sorted(bus.scan())
    if kind == _BUSIO:
        for _ in range(1000):
            if bus.try_lock():
                break
        else:
            raise OSError(16, "bus stays locked")
        try:
            return sorted(bus.scan())
        finally:
            bus.unlock()
    # smbus2 has no scan: probe like i2cdetect, a one-byte read per address.
    found = []
    for a in range(0x08, 0x78):
        try:
            bus.read_byte(a)
        except OSError:
            continue
        found.append(a)
    return found
