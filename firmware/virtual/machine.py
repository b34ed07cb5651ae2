# Fake `machine` for the virtual board (MicroPython unix port). It sits ahead
# of the built-in module on the import path; the firmware uses it exactly as
# it uses the ESP8266/ESP32 one. Lean on purpose (every function costs heap
# that the real, built-in module does not): rarely used names come from
# machine_extra.py on first use.
# - I2C/SoftI2C: transfers go to the runner's simulated bus (drivers.sim
#   chips), and only on the board's SDA/SCL pins (other pins: an empty bus)
# - WDT: armed and fed through the runner, which kills the VM when a feed is
#   late: a hung firmware really resets, whatever it is blocked in
# - Pin.irq: edges counted by the runner, handed to the handler at each feed
# - reset()/deepsleep(): the runner ends the process and boots it again
import vboard

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


def reset_cause():
    return ("power", "reset", "wdt", "deepsleep", "soft").index(vboard.board.get("cause", "power")) + 1


def disable_irq():
    return 0  # IRQs reach handlers only at a feed here: nothing to hold off


def enable_irq(state=0):
    pass


def reset():
    vboard.power(b"reset 0")


def deepsleep(ms=0):
    vboard.power(b"deepsleep %d" % ms)


def __getattr__(name):
    import sys
    m = sys.modules.get("machine_extra")
    if m is None:
        # The fakes' ROM image is off the board's filesystem and import path
        # (vboot.py gave it a board's): mapped again for this one import.
        import vfs
        vfs.mount(vfs.VfsRom(vboard.rom), "/.vboard")
        sys.path.append("/.vboard")
        try:
            import machine_extra as m
        finally:
            sys.path.remove("/.vboard")
            vfs.umount("/.vboard")
    return getattr(m, name)


_pins = {}


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __new__(cls, id, *args, **kwargs):
        # The ESP8266 and ESP32 ports have one static Pin object per GPIO:
        # Pin(n) hands back the same one and takes no heap. vboot makes them
        # all before it trims the heap, so this never allocates afterwards.
        p = _pins.get(id)
        if p is None:
            p = _pins[id] = object.__new__(cls)
            p.id, p.mode, p._v = id, -1, 0
        return p

    def __init__(self, id, mode=-1, pull=-1, value=None):
        # A pull-up rides in the mode (+4): the runner gives an I2C line's
        # level by it (a line with no pull-up on the bus floats low).
        self.mode = mode + 4 if pull == 1 and mode >= 0 else mode
        if value is not None:
            self._v = 1 if value else 0

    def value(self, v=None):
        if v is not None:
            self._v = 1 if v else 0
        elif self.mode & 3 == 1:
            return self._v
        else:
            return vboard.request(vboard.PIN, self.id, None, 0, self.mode > 3, reply=1)[0]

    __call__ = value

    def irq(self, handler=None, trigger=1, hard=False):
        # The runner counts the edges (its pulse source, e.g. the noise
        # comparator); they reach the handler at the next watchdog feed,
        # which a running firmware does every loop turn.
        vboard.irqs.append((self, handler))

    def on(self):
        self._v = 1

    def off(self):
        self._v = 0


class I2C:
    """machine.I2C over the runner's simulated bus."""

    def __init__(self, id=-1, *, scl=None, sda=None, freq=400000, timeout=50000):
        b = vboard.board
        # Wired as the board is: the chips answer only on its SDA/SCL pins
        # (1), or on them exchanged (2, flags bit 1: the runner answers
        # there only when its wiring has SDA and SCL swapped).
        pins = sda is None or (getattr(sda, "id", sda), getattr(scl, "id", scl))
        self._wired = 1 if pins is True or pins == (b["sda"], b["scl"]) else 2 if pins == (b["scl"], b["sda"]) else 0

    def _xfer(self, addr, out, nread, stop, into=None):
        if not self._wired:
            raise OSError(19)  # ENODEV: nobody acknowledges
        vboard.request(vboard.I2C, addr, out, nread, (1 if stop else 0) | (self._wired & 2))
        status = vboard.read_into(bytearray(1))[0]
        if status:
            raise OSError(status)
        if nread:
            return vboard.read_into(into if into is not None else bytearray(nread))

    def sleep_ms(self, ms):
        # Drivers wait for conversions with the bus's sleep_ms when it has
        # one. The unix port's time.sleep_ms can return ~0.5 ms early (a
        # board's never does), and the simulated chips then rightly NACK:
        # this one waits at least `ms`, as on a board.
        import time
        t0 = time.ticks_us()
        time.sleep_ms(ms)
        while time.ticks_diff(time.ticks_us(), t0) < ms * 1000 + 200:
            time.sleep_us(100)

    def scan(self):
        if not self._wired:
            return []
        n = vboard.request(vboard.SCAN, 0, None, 0, self._wired & 2, reply=1)[0]
        return list(vboard.read_into(bytearray(n))) if n else []

    def writeto(self, addr, buf, stop=True):
        self._xfer(addr, buf, 0, stop)
        return len(buf)

    def readfrom(self, addr, nbytes, stop=True):
        return bytes(self._xfer(addr, None, nbytes, stop))

    def readfrom_into(self, addr, buf, stop=True):
        self._xfer(addr, None, len(buf), stop, buf)

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        self._xfer(addr, bytes((memaddr,)), len(buf), 1, buf)

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        return bytes(self._xfer(addr, bytes((memaddr,)), nbytes, 1))

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self._xfer(addr, bytes((memaddr,)) + bytes(buf), 0, 1)


SoftI2C = I2C


class WDT:
    """The runner keeps the deadline: it resets the board when a feed is late."""

    def __init__(self, id=0, timeout=5000):
        vboard.event("wdt %d" % timeout)

    def feed(self):
        vboard.request(vboard.EVENT, 0, b"feed")
        if vboard.irqs:
            vboard.deliver()
