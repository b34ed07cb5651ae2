# Fake `machine` of the in-VM scenario (see fakes.py): the board's I2C bus is
# the SimBus fakes.install() built; the watchdog ends a scenario step.
import gc
from drivers.sim.bus import SimBus
from fakes import Reset, Turn

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

bus = None
meter = None
passes = -1   # feeds let through before one raises Turn (-1: all of them)
turns = 0
cause = PWRON_RESET


def reset_cause():
    return cause


def reset():
    raise Reset("reset")


def soft_reset():
    raise Reset("soft_reset")


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
        self._v = 1 if value else 0

    def value(self, v=None):
        if v is None:
            return self._v
        self._v = 1 if v else 0

    def irq(self, handler=None, trigger=1, hard=False):
        pass

    def on(self):
        self._v = 1

    def off(self):
        self._v = 0


class Bus(SimBus):
    """The SimBus, each transfer metered. What the model and SimBus allocate
    to carry it out is the fake's, not the firmware's (a board's
    machine.I2C allocates no more than the bytes a read returns): it is
    counted in meter.fake, which the samples leave out."""

    def _done(self, a0, out):
        m = meter
        m.fake += gc.mem_alloc() - a0 - (m.bytes_cost(len(out)) if isinstance(out, bytes) else 0)
        m.sample("i2c")
        return out

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        a0 = gc.mem_alloc()
        return self._done(a0, SimBus.readfrom_mem(self, addr, memaddr, nbytes, addrsize))

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        a0 = gc.mem_alloc()
        return self._done(a0, SimBus.readfrom_mem_into(self, addr, memaddr, buf, addrsize))

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        a0 = gc.mem_alloc()
        return self._done(a0, SimBus.writeto_mem(self, addr, memaddr, buf, addrsize))

    def readfrom(self, addr, nbytes, stop=True):
        a0 = gc.mem_alloc()
        return self._done(a0, SimBus.readfrom(self, addr, nbytes, stop))

    def readfrom_into(self, addr, buf, stop=True):
        a0 = gc.mem_alloc()
        return self._done(a0, SimBus.readfrom_into(self, addr, buf, stop))

    def writeto(self, addr, buf, stop=True):
        a0 = gc.mem_alloc()
        return self._done(a0, SimBus.writeto(self, addr, buf, stop))

    def scan(self):
        a0 = gc.mem_alloc()
        out = SimBus.scan(self)
        meter.fake += gc.mem_alloc() - a0 - meter.list_cost(len(out))
        meter.sample("i2c")
        return out


def SoftI2C(*args, **kwargs):
    # One bus on the board, whatever the pins: the scenario wires it right.
    return bus


I2C = SoftI2C


class WDT:
    def __init__(self, id=0, timeout=5000):
        pass

    def feed(self):
        # The top of a loop turn: the scenario's step ends here (Turn), so
        # that the VM collects with nothing of the firmware's on its stack.
        global passes, turns
        if passes == 0:
            raise Turn()
        passes -= 1
        turns += 1
        meter.sample("feed")
