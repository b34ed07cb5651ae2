# In-VM stand-ins for what an ESP8266 has in ROM (machine, network, socket),
# so that the firmware's set-up and loop phases run inside one MicroPython VM
# with nothing outside it: the 32-bit WebAssembly port has none of these
# modules, and the 64-bit unix port runs the very same fakes so that the two
# columns compare like with like (bench/heap32.py).
#   machine (vm_machine.py): SoftI2C is a drivers.sim SimBus with the
#     scenario's chip models (MCP9808, SHT3x, TSL2561); WDT.feed() ends a
#     scenario step (Turn); reset()/soft_reset() end the phase (Reset).
#   network (vm_network.py): a station always associated.
#   socket (vm_socket.py): a scripted broker: CONNACK, SUBACK, then the
#     scenario's orders a round at a time, and a restart order at the end;
#     what the firmware writes is counted and dropped.
#   gc (vm_gc.py): collect() does nothing (see there).
# Every fake samples gc.mem_alloc() (Meter) when the firmware calls it:
# those calls are where the firmware holds its transients (a payload being
# written, a chip read, an order being read).
# All of this is built before the heap is first measured: its bytes are the
# baseline that every figure is taken from.
import gc
import sys


class Reset(BaseException):
    pass


class Turn(BaseException):
    # Raised by the watchdog feed at the top of a loop turn: the firmware
    # catches Exception and MemoryError, never this.
    pass


class Meter:
    """gc.mem_alloc() over `base` at each fake call, as it is (no collection:
    garbage since the last step's collection counted, an upper bound of the
    live heap); live=True collects first (only the unix port can, inside
    running code): live bytes at that moment, a sampled lower bound."""

    def __init__(self):
        self.base = 0
        self.on = False
        self.live = False
        self.peak = 0
        self.where = "-"
        self.calls = 0
        self.fake = 0       # bytes the fakes allocated since the last collection
        self.fake_total = 0
        # What a board's own call would allocate for a result: bytes(n), a
        # list of n (filled in by install(), measured in this VM).
        self._bytes = self._list = ()

    def bytes_cost(self, n):
        return self._bytes[n] if n < len(self._bytes) else self._bytes[-1] + n

    def list_cost(self, n):
        return self._list[n] if n < len(self._list) else self._list[-1] + n * 8

    def collected(self):
        # After a collection, the fakes' garbage is gone.
        self.fake_total += self.fake
        self.fake = 0

    def sample(self, where):
        if not self.on:
            return
        self.calls += 1
        if self.live:
            gc.collect()
            self.collected()
        n = gc.mem_alloc() - self.base - self.fake
        if n > self.peak:
            self.peak = n
            self.where = where

    def now(self):
        # Called between steps, right after a collection: live bytes.
        self.collected()
        return gc.mem_alloc() - self.base


def _costs(make, n):
    out = []
    for i in range(n):
        a = gc.mem_alloc()
        x = make(i)
        out.append(gc.mem_alloc() - a)
        x = None
    return tuple(out)


meter = Meter()
# qstrs a phase may intern without a new pool chunk: the loop phase interns
# some 300 (bench/heap32.py checks that no chunk came).
QSTR_ROOM = 1500


def grow_qstr_pool(need):
    """Interns throw-away names until the qstr pool's newest chunk has room
    for `need` more: the names the firmware's code brings (and their pool
    chunks) then cost the measured heap nothing, as for frozen code, whose
    qstrs are in flash; and a chunk allocation, whose size and moment differ
    between the two VMs' builds, no longer lands in one VM's figures only.
    A pool chunk shows as a jump of more than 200 bytes (string data comes
    in 128-byte chunks); returns the number of names interned."""
    class Probe:
        pass
    o = Probe()
    i = 0
    while True:
        name = "_qstr_pad_%d" % i
        a = gc.mem_alloc()
        getattr(o, name, None)
        jump = gc.mem_alloc() - a
        i += 1
        if jump > 200 and i >= need:
            return i


def install(base, mac, rounds):
    """Builds the fakes and the bus, puts machine/network/socket/gc in
    sys.modules; returns the broker. Call before the first measure."""
    import vm_gc
    import vm_machine
    import vm_network
    import vm_socket
    from drivers.sim.mcp9808 import MCP9808Model
    from drivers.sim.sht3x import SHT3XModel
    from drivers.sim.tsl2561 import TSL2561Model
    bus = vm_machine.Bus()
    bus.attach(0x18, MCP9808Model(21.5))
    bus.attach(0x44, SHT3XModel(21.25, 47.5))
    bus.attach(0x39, TSL2561Model(320.0))
    vm_machine.bus = bus
    meter._bytes = _costs(bytes, 40)
    meter._list = _costs(lambda n: [0] * n, 12)
    vm_machine.meter = vm_network.meter = vm_socket.meter = meter
    vm_network.MAC = bytes(int(x, 16) for x in mac.split(":"))
    broker = vm_socket.Broker(base, rounds)
    vm_socket.broker = broker
    sys.modules["machine"] = vm_machine
    sys.modules["network"] = vm_network
    sys.modules["socket"] = vm_socket
    sys.modules["gc"] = vm_gc
    grow_qstr_pool(QSTR_ROOM)
    return broker
