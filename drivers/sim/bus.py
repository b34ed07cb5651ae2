"""SimBus: a simulated I2C bus that speaks machine.I2C, smbus2.SMBus and busio.I2C.

Chip models are attached at addresses; SimBus turns each API call into I2C
messages: model.write(data) for a write message, model.read(n) -> bytes for a
read message (a combined write-then-read calls both, in one transaction).

Counters: transactions (START..STOP; a repeated start does not open a new one),
bytes_written, bytes_read, and per_address {addr: [transactions, written, read]}.
Faults, per address, consumed in order by inject(address, kind, count):
  "nack"    the address is not acknowledged: OSError(ENODEV 19), like MicroPython
  "timeout" the transaction times out: OSError(ETIMEDOUT 110)
  "corrupt" the next read message has bits of its last byte flipped (CRC byte)
  "stuck"   the next reads repeat the previous read's bytes; past its length the
            line stays released and reads 0xFF
count=None keeps the fault until clear_faults().
Time: now_ms() is the real monotonic clock plus whatever sleep_ms() skipped, so
drivers wait for conversions instantly and real sleeps still count.
"""
from drivers.sim.base import real_ms

_ENODEV = 19
_ETIMEDOUT = 110
KINDS = ("nack", "timeout", "corrupt", "stuck")


class Nack(OSError):
    """Raised by SimBus, or by a model that refuses a message (busy, not ready)."""

    def __init__(self, errno=_ENODEV, msg="NACK"):
        super().__init__(errno, msg)


class SimBus:
    def __init__(self, trace=False):
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
        return model

    def detach(self, address):
        self.models.pop(address, None)

    def reset_counters(self):
        self.transactions = 0
        self.bytes_written = 0
        self.bytes_read = 0
        self.per_address = {}

    def inject(self, address, kind, count=1):
        if kind not in KINDS:
            raise ValueError("fault kind %r not in %r" % (kind, KINDS))
        self.faults.setdefault(address, []).append([kind, count])

    def clear_faults(self):
        self.faults = {}

    def now_ms(self):
        return real_ms() + self.skipped_ms

    def sleep_ms(self, ms):
        self.skipped_ms += ms

    # --- the wire -----------------------------------------------------------
    def _take(self, address, kinds):
        # First pending fault of one of `kinds` for this address, consumed once.
        queue = self.faults.get(address)
        if not queue:
            return None
        for f in queue:
            if f[0] in kinds:
                if f[1] is not None:
                    f[1] -= 1
                    if f[1] <= 0:
                        queue.remove(f)
                return f[0]
        return None

    def _start(self, address):
        """START (or repeated START) + address byte; returns the model."""
        if self._open != address:
            self._open = None
            self.transactions += 1
            c = self.per_address.get(address)
            if c is None:
                c = self.per_address[address] = [0, 0, 0]
            c[0] += 1
        kind = self._take(address, ("nack", "timeout"))
        model = self.models.get(address)
        if kind == "timeout":
            self._open = None
            raise OSError(_ETIMEDOUT, "ETIMEDOUT")
        if kind == "nack" or model is None:
            self._open = None
            raise Nack()
        return model

    def _end(self, address, stop):
        self._open = None if stop else address

    def _count(self, address, written, read):
        self.bytes_written += written
        self.bytes_read += read
        c = self.per_address[address]
        c[1] += written
        c[2] += read

    def _write(self, address, data, stop=True):
        try:
            model = self._start(address)
            n = len(data)
            self._count(address, n, 0)
            if self.log is not None:
                self.log.append((address, "w", bytes(data)))
            if n:
                model.write(bytes(data))
        except OSError:
            self._open = None
            raise
        self._end(address, stop)
        return n

    def _read(self, address, n, stop=True):
        try:
            model = self._start(address)
            kind = self._take(address, ("stuck", "corrupt"))
            if kind == "stuck":
                data = bytearray(b"\xff" * n)
                prev = self._last.get(address, b"")
                m = min(n, len(prev))
                data[:m] = prev[:m]
            else:
                data = bytearray(model.read(n))
                if len(data) < n:
                    data.extend(b"\xff" * (n - len(data)))
                elif len(data) > n:
                    data = data[:n]
                if kind == "corrupt" and n:
                    data[n - 1] ^= 0x5A
            self._count(address, 0, n)
            self._last[address] = bytes(data)
            if self.log is not None:
                self.log.append((address, "r", bytes(data)))
        except OSError:
            self._open = None
            raise
        self._end(address, stop)
        return data

    # --- machine.I2C (and busio.I2C where the names are shared) -------------
    def scan(self):
        found = []
        for a in range(0x08, 0x78):
            try:
                self._write(a, b"")
            except OSError:
                continue
            found.append(a)
        return found

    @staticmethod
    def _mem(memaddr, addrsize):
        if addrsize == 16:
            return bytes(((memaddr >> 8) & 0xFF, memaddr & 0xFF))
        return bytes((memaddr & 0xFF,))

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        self._write(addr, self._mem(memaddr, addrsize), False)
        return bytes(self._read(addr, nbytes))

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        self._write(addr, self._mem(memaddr, addrsize), False)
        buf[:] = self._read(addr, len(buf))

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self._write(addr, self._mem(memaddr, addrsize) + bytes(buf))

    def readfrom(self, addr, nbytes, stop=True):
        return bytes(self._read(addr, nbytes, stop))

    def readfrom_into(self, addr, buf, stop=True, start=0, end=None):
        if end is None:
            end = len(buf)
        buf[start:end] = self._read(addr, end - start, stop)

    def writeto(self, addr, buf, stop=True, start=0, end=None):
        if end is None:
            end = len(buf)
        return self._write(addr, bytes(buf[start:end]), stop)

    def writevto(self, addr, vector, stop=True):
        data = b""
        for part in vector:
            data += bytes(part)
        return self._write(addr, data, stop)

    # --- busio.I2C ----------------------------------------------------------
    def try_lock(self):
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self):
        self._locked = False

    def deinit(self):
        self._locked = False

    def writeto_then_readfrom(self, addr, buffer_out, buffer_in, out_start=0, out_end=None,
                              in_start=0, in_end=None):
        if out_end is None:
            out_end = len(buffer_out)
        if in_end is None:
            in_end = len(buffer_in)
        self._write(addr, bytes(buffer_out[out_start:out_end]), False)
        buffer_in[in_start:in_end] = self._read(addr, in_end - in_start)

    # --- smbus2.SMBus -------------------------------------------------------
    def read_byte(self, addr, force=None):
        return self._read(addr, 1)[0]

    def write_byte(self, addr, value, force=None):
        self._write(addr, bytes((value,)))

    def write_quick(self, addr, force=None):
        self._write(addr, b"")

    def read_byte_data(self, addr, reg, force=None):
        return self.readfrom_mem(addr, reg, 1)[0]

    def write_byte_data(self, addr, reg, value, force=None):
        self._write(addr, bytes((reg, value)))

    def read_word_data(self, addr, reg, force=None):
        d = self.readfrom_mem(addr, reg, 2)
        return d[0] | (d[1] << 8)  # SMBus words travel low byte first

    def write_word_data(self, addr, reg, value, force=None):
        self._write(addr, bytes((reg, value & 0xFF, (value >> 8) & 0xFF)))

    def read_i2c_block_data(self, addr, reg, length, force=None):
        return list(self.readfrom_mem(addr, reg, length))

    def write_i2c_block_data(self, addr, reg, data, force=None):
        self._write(addr, bytes((reg,)) + bytes(data))

    def i2c_rdwr(self, *msgs):
        """smbus2.i2c_msg list: one transaction, repeated starts between messages."""
        last = len(msgs) - 1
        for i, msg in enumerate(msgs):
            stop = i == last
            if msg.flags & 1:
                data = self._read(msg.addr, msg.len, stop)
                for j in range(msg.len):
                    msg.buf[j] = data[j:j + 1]
            else:
                self._write(msg.addr, bytes(msg), stop)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
