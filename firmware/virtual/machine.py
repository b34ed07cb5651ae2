# Fake `machine` for the virtual board (MicroPython unix port). It sits ahead
# of the built-in module on the import path; the firmware uses it exactly as
# it uses the ESP8266/ESP32 one.
# - I2C/SoftI2C: transfers go to the runner's simulated bus (drivers.sim
#   chips), and only on the board's SDA/SCL pins (other pins: an empty bus)
# - WDT: armed and fed through the runner, which kills the VM when a feed is
#   late: a hung firmware really resets, whatever it is blocked in
# - reset()/deepsleep(): the runner ends the process and boots it again
import time
import vboard

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
_CAUSES = {"power": PWRON_RESET, "reset": HARD_RESET, "wdt": WDT_RESET,
           "deepsleep": DEEPSLEEP_RESET, "soft": SOFT_RESET}


def reset_cause():
    return _CAUSES.get(vboard.board.get("cause", "power"), PWRON_RESET)


def _power(kind, arg=0):
    # The runner kills us on this event; waiting keeps the firmware from
    # running on, as after a real reset.
    vboard.event("%s %d" % (kind, arg))
    for _ in range(150):
        time.sleep_ms(20)
    import sys
    sys.exit(200)  # no runner listening: end anyway


def reset():
    _power("reset")


def soft_reset():
    _power("soft")


def deepsleep(ms=0):
    _power("deepsleep", ms)


def lightsleep(ms=0):
    time.sleep_ms(ms)


def idle():
    time.sleep_ms(1)


def freq(hz=None):
    return 80000000 if vboard.board.get("board") == "esp8266" else 160000000


def unique_id():
    return bytes(int(x, 16) for x in vboard.board.get("mac", "02:00:00:00:00:01").split(":"))


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self._mode = mode
        self._value = 0 if value is None else value

    def init(self, mode=-1, pull=-1, value=None):
        self._mode = mode
        if value is not None:
            self._value = value

    def value(self, v=None):
        if v is not None:
            self._value = 1 if v else 0
            return None
        if self._mode == Pin.OUT:
            return self._value
        vboard.request(80, self.id)  # "P"
        return vboard.byte()

    __call__ = value

    def on(self):
        self._value = 1

    def off(self):
        self._value = 0

    def irq(self, handler=None, trigger=3):
        return None


def _pin_id(p):
    return p if p is None or isinstance(p, int) else p.id


class I2C:
    """machine.I2C over the runner's simulated bus."""

    def __init__(self, id=-1, *, scl=None, sda=None, freq=400000, timeout=50000):
        pins = (_pin_id(sda), _pin_id(scl))
        # Wired as the board is: the chips answer only on its SDA/SCL pins.
        self._wired = pins == (None, None) or pins == (vboard.board.get("sda"), vboard.board.get("scl"))

    def _xfer(self, addr, out, nread, stop=True, into=None):
        if not self._wired:
            raise OSError(19)  # ENODEV: nobody acknowledges
        vboard.request(88, addr, out, nread, 1 if stop else 0)  # "X"
        status = vboard.byte()
        if status:
            raise OSError(status)
        if nread:
            buf = into if into is not None else bytearray(nread)
            vboard.read_into(buf)
            return buf
        return None

    def scan(self):
        if not self._wired:
            return []
        vboard.request(83)  # "S"
        n = vboard.byte()
        found = bytearray(n)
        if n:
            vboard.read_into(found)
        return list(found)

    def writeto(self, addr, buf, stop=True):
        self._xfer(addr, buf, 0, stop)
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        data = b""
        for part in vector:
            data += bytes(part)
        return self.writeto(addr, data, stop)

    def readfrom(self, addr, nbytes, stop=True):
        return bytes(self._xfer(addr, None, nbytes, stop))

    def readfrom_into(self, addr, buf, stop=True):
        self._xfer(addr, None, len(buf), stop, buf)

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        self._xfer(addr, _mem(memaddr, addrsize), len(buf), True, buf)

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        return bytes(self._xfer(addr, _mem(memaddr, addrsize), nbytes))

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self._xfer(addr, _mem(memaddr, addrsize) + bytes(buf), 0)


def _mem(memaddr, addrsize):
    if addrsize == 16:
        return bytes(((memaddr >> 8) & 0xFF, memaddr & 0xFF))
    return bytes((memaddr & 0xFF,))


SoftI2C = I2C


class WDT:
    """The runner keeps the deadline: it resets the board when a feed is late."""

    def __init__(self, id=0, timeout=5000):
        vboard.event("wdt %d" % timeout)

    def feed(self):
        vboard.event("feed")


class RTC:
    def __init__(self, id=0):
        pass

    def datetime(self, dt=None):
        if dt is not None:
            return None
        t = time.localtime()
        return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)

    def memory(self, data=None):
        # Survives resets and deepsleep (the runner keeps the state folder).
        p = vboard._DIR + "/rtc_memory"
        if data is None:
            try:
                with open(p, "rb") as f:
                    return f.read()
            except OSError:
                return b""
        with open(p, "wb") as f:
            f.write(data)
