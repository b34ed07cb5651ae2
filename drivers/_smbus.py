"""smbus2.SMBus seen as the machine.I2C calls drivers.bus.I2CDevice makes
(CPython on Linux only). A write with stop=False is held and sent with the
following read in one i2c_rdwr: a repeated start, as on the other buses."""
from smbus2 import i2c_msg


class SMBusAsMachine:
    def __init__(self, bus):
        self.bus = bus
        self._held = None
        # I2CDevice.sleep_ms asks the bus it talks to: pass a virtual clock on.
        self.sleep_ms = getattr(bus, "sleep_ms", None)

    def _rdwr(self, addr, out, buf):
        r = i2c_msg.read(addr, len(buf))
        if out is None:
            self.bus.i2c_rdwr(r)
        else:
            self.bus.i2c_rdwr(i2c_msg.write(addr, out), r)
        buf[:] = bytes(r)

    def readfrom_mem_into(self, addr, reg, buf):
        self._rdwr(addr, bytes((reg,)), buf)

    def writeto_mem(self, addr, reg, data):
        self.bus.i2c_rdwr(i2c_msg.write(addr, bytes((reg,)) + bytes(data)))

    def writeto(self, addr, data, stop=True):
        if stop:
            self._held = None
            self.bus.i2c_rdwr(i2c_msg.write(addr, bytes(data)))
        else:
            self._held = bytes(data)

    def readfrom_into(self, addr, buf):
        out, self._held = self._held, None
        self._rdwr(addr, out, buf)

    def scan(self):
        # smbus2 has no scan: probe like i2cdetect, a one-byte read per address.
        found = []
        for a in range(0x08, 0x78):
            try:
                self.bus.read_byte(a)
            except OSError:
                continue
            found.append(a)
        return found
