"""SimBus: a simulated I2C bus that speaks machine.I2C, smbus2.SMBus and busio.I2C
(the smbus2 methods come from drivers/sim/_smbus_api.py, on CPython only).

Chip models are attached at addresses (attach is the chip's power-up: it calls
model.power_on() where the model has one); SimBus turns each API call into I2C
messages: model.write(data) for a write message, model.read(n) -> bytes for a
read message (a combined write-then-read calls both, in one transaction).

Counters: transactions (START..STOP; a repeated start does not open a new one),
bytes_written, bytes_read; SimBus(trace=True) logs (address, "w"|"r", bytes).
Faults, per address, consumed in order by inject(address, kind, count):
  "nack"    the address is not acknowledged: OSError(ENODEV 19), like MicroPython
  "timeout" the transaction times out: OSError(ETIMEDOUT 110)
  "corrupt" the next read message has bits of its last byte flipped (CRC byte)
  "stuck"   the next reads repeat the previous read's bytes; past its length the
            line stays released and reads 0xFF
count=None keeps the fault until clear_faults().
Time: now_ms() is the real monotonic clock (unless realtime=False) plus whatever sleep_ms() skipped, so
drivers wait for conversions instantly and real sleeps still count.
"""
import sys

from drivers.sim.base import real_ms

if sys.implementation.name == "micropython":
    # smbus2 exists only on Linux CPython: a MicroPython VM never needs that API,
    # and its ~1.5 KB of methods matter in a 36 KB heap.
    _API = object
else:
    from drivers.sim._smbus_api import SMBusAPI as _API

_ENODEV = 19
_ETIMEDOUT = 110
KINDS = ("nack", "timeout", "corrupt", "stuck")


class Nack(OSError):
    """Raised by SimBus, or by a model that refuses a message (busy, not ready)."""

    def __init__(self, errno=_ENODEV, msg="NACK"):
        super().__init__(errno, msg)


class SimBus(_API):
    def __init__(self, trace=False, realtime=True):
        # realtime=False: the clock moves only by sleep_ms(), so a test that
        # checks "not ready 1 ms before the end" cannot be passed by a slow host.
        self.realtime = realtime
        self.models = {}
        self.faults = {}
        self._last = {}
        self._open = None
        self._locked = False
        self.skipped_ms = 0
        self.log = [] if trace else None
        self.reset_counters()

    # --- set-up -------------------------------------------------------------
    def attach(self, address, model):
        if not 0x08 <= address <= 0x77:
            raise ValueError("7-bit I2C address out of range: 0x%02x" % address)
        self.models[address] = model
        if getattr(model, "clock", 0) is None:
            model.clock = self.now_ms
        # Attaching is powering up: a chip that converts from power-up starts now, on
        # the bus clock, not at the first access a driver makes.
        if hasattr(model, "power_on"):
            model.power_on()
        return model

    def detach(self, address):
        self.models.pop(address, None)

    def reset_counters(self):
        self.transactions = 0
        self.bytes_written = 0
        self.bytes_read = 0

    def inject(self, address, kind, count=1):
        if kind not in KINDS:
            raise ValueError("fault kind %r not in %r" % (kind, KINDS))
        self.faults.setdefault(address, []).append([kind, count])

    def clear_faults(self):
        self.faults = {}

    def now_ms(self):
        return (real_ms() if self.realtime else 0) + self.skipped_ms

    def sleep_ms(self, ms):
        self.skipped_ms += ms

    # --- the wire -----------------------------------------------------------
    def _xfer(self, address, data, n, stop=True):
        """One message: write `data` (n None) or read n bytes. A message right
        after one sent with stop=False to the same address is a repeated start,
        not a new transaction."""
        rd = n is not None
        try:
            model = self.models.get(address)
            if self._open != address:
                self.transactions += 1
            self._open = None
            kind = None
            queue = self.faults.get(address)
            for f in queue or ():
                if rd or f[0] in ("nack", "timeout"):
                    kind = f[0]
                    if f[1] is not None:
                        f[1] -= 1
                        if f[1] <= 0:
                            queue.remove(f)
                    break
            if kind == "timeout":
                raise OSError(_ETIMEDOUT, "ETIMEDOUT")
            if kind == "nack" or model is None:
                raise Nack()
            if not rd:
                n = len(data)
                self.bytes_written += n
                if n:
                    model.write(bytes(data))
                out = n
                data = bytes(data)
            else:
                data = bytearray(b"\xff" * n)
                if kind == "stuck":
                    new = self._last.get(address, b"")
                else:
                    new = model.read(n)
                m = min(n, len(new))
                data[:m] = new[:m]
                if kind == "corrupt" and n:
                    data[n - 1] ^= 0x5A
                self.bytes_read += n
                self._last[address] = out = bytes(data)
            if self.log is not None:
                self.log.append((address, "r" if rd else "w", data))
        except OSError:
            self._open = None
            raise
        if not stop:
            self._open = address
        return out

    # --- machine.I2C (and busio.I2C where the names are shared) -------------
    def scan(self):
        found = []
        for a in range(0x08, 0x78):
            try:
                self._xfer(a, b"", None)
            except OSError:
                continue
            found.append(a)
        return found

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        if addrsize == 16:
            mem = bytes(((memaddr >> 8) & 0xFF, memaddr & 0xFF))
        else:
            mem = bytes((memaddr & 0xFF,))
        self._xfer(addr, mem, None, False)
        return self._xfer(addr, None, nbytes)

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        buf[:] = self.readfrom_mem(addr, memaddr, len(buf), addrsize)

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        mem = bytes(((memaddr >> 8) & 0xFF,)) if addrsize == 16 else b""
        self._xfer(addr, mem + bytes((memaddr & 0xFF,)) + bytes(buf), None)

    def readfrom(self, addr, nbytes, stop=True):
        return self._xfer(addr, None, nbytes, stop)

    def readfrom_into(self, addr, buf, stop=True, start=0, end=None):
        if end is None:
            end = len(buf)
        buf[start:end] = self._xfer(addr, None, end - start, stop)

    def writeto(self, addr, buf, stop=True, start=0, end=None):
        if end is None:
            end = len(buf)
        return self._xfer(addr, buf[start:end], None, stop)

    def writevto(self, addr, vector, stop=True):
        data = b""
        for part in vector:
            data += bytes(part)
        return self._xfer(addr, data, None, stop)

    # --- busio.I2C ----------------------------------------------------------
    def try_lock(self):
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self):
        self._locked = False

    def writeto_then_readfrom(self, addr, buffer_out, buffer_in, out_start=0, out_end=None,
                              in_start=0, in_end=None):
        if out_end is None:
            out_end = len(buffer_out)
        if in_end is None:
            in_end = len(buffer_in)
        self._xfer(addr, buffer_out[out_start:out_end], None, False)
        buffer_in[in_start:in_end] = self._xfer(addr, None, in_end - in_start)
