# Tiny chip models shared by the SimBus tests (portable).
from drivers.sim import Nack, SimBus
from drivers.sim.base import Model, RegisterModel


class Echo(Model):
    """Command chip: remembers the last write, reads back its bytes in order."""

    def __init__(self):
        self.last = b""
        self.busy = False

    def write(self, data):
        if self.busy:
            raise Nack(19, "busy")
        self.last = data

    def read(self, n):
        return self.last[:n]


def regbus():
    """A SimBus with a 256-register chip at 0x20 whose register i holds i."""
    bus = SimBus()
    m = RegisterModel()
    for i in range(256):
        m.regs[i] = i
    bus.attach(0x20, m)
    return bus, m
