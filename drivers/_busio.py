"""busio.I2C (CircuitPython, Blinka) seen as the machine.I2C calls
drivers.bus.I2CDevice makes. Each transfer takes and releases the bus lock; a
write with stop=False is held and sent with the following read through
writeto_then_readfrom (one transaction with a repeated start)."""


class BusioAsMachine:
    def __init__(self, bus):
        self.bus = bus
        self._held = None
        # I2CDevice.sleep_ms asks the bus it talks to: pass a virtual clock on.
        self.sleep_ms = getattr(bus, "sleep_ms", None)
        self._reg = bytearray(1)

    def _lock(self):
        for _ in range(1000):
            if self.bus.try_lock():
                return
        raise OSError(16, "I2C bus stays locked by someone else")

    def readfrom_mem_into(self, addr, reg, buf):
        self._reg[0] = reg
        self._held = self._reg
        self.readfrom_into(addr, buf)

    def writeto_mem(self, addr, reg, data):
        out = bytearray(1 + len(data))
        out[0] = reg
        out[1:] = data
        self.writeto(addr, out)

    def writeto(self, addr, data, stop=True):
        if not stop:
            self._held = data
            return
        self._held = None
        self._lock()
        try:
            self.bus.writeto(addr, data)
        finally:
            self.bus.unlock()

    def readfrom_into(self, addr, buf):
        out, self._held = self._held, None
        self._lock()
        try:
            if out is None:
                self.bus.readfrom_into(addr, buf)
            else:
                self.bus.writeto_then_readfrom(addr, out, buf)
        finally:
            self.bus.unlock()

    def scan(self):
        self._lock()
        try:
            return self.bus.scan()
        finally:
            self.bus.unlock()
