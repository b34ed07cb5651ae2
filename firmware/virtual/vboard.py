# The virtual board's wiring: the peripheral fakes (machine, network,
# ntptime) reach the runner (virtual_board/, in CPython) over one loopback
# socket. The runner holds the simulated chips (drivers.sim, in CPython), the
# radio's state, the input pins, the watchdog and the power switch; the VM
# holds only this small proxy, so the fakes take little of the heap that a
# real board's built-in modules would not take at all.
# Nothing in firmware/ imports this module: only the fakes do.
#
import json
import os
import usocket as socket  # the built-in: socket.py is the fakes' own, cut off with the radio

# The frames' op codes: this one table, which the runner reads from this file
# too (virtual_board/hardware.py). A frame: op, address,
# n_write, n_read, flags, 0, then n_write bytes.
I2C = 88    # "X": a transfer; flags bit 0 = STOP, bit 1 = on SDA/SCL swapped; reply: status (0 or an errno), then n_read bytes
SCAN = 83   # "S": flags bit 1 = on SDA/SCL swapped; reply: count, then the addresses that ACK
PIN = 80    # "P": level of input pin `address`, flags bit 0 = its pull-up on; reply: 0 or 1
RADIO = 78  # "N": reply: 0 ok, 1 fail, 2 down; bit 3 set: NTP unreachable
EDGES = 67  # "C": rising edges on pin `address` since the last C; reply: 2 bytes, big endian
EVENT = 69  # "E": an event line for the runner (reset, soft, deepsleep, wdt, feed, rtcmem); no reply

with open((os.getenv("NEOC_VBOARD") or ".") + "/board.json") as _f:
    board = json.load(_f)
_s = socket.socket()
_s.connect(socket.getaddrinfo("127.0.0.1", board["port"])[0][-1])
_s.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY: a frame in two writes must not wait 40 ms
_h = bytearray(6)
irqs = []  # (Pin, handler) of every Pin.irq()


def request(op, addr=0, data=None, nread=0, flags=0, reply=0):
    """Send one frame; read `reply` bytes back (into a new bytearray)."""
    h = _h
    h[0] = op
    h[1] = addr
    h[2] = len(data) if data else 0
    h[3] = nread
    h[4] = flags
    _s.write(h)
    if data:
        _s.write(data)
    if reply:
        return read_into(bytearray(reply))


def read_into(buf):
    mv = memoryview(buf)
    got = 0
    while got < len(buf):
        n = _s.readinto(mv[got:])
        if not n:
            raise OSError(5)  # runner gone: the board is being powered off
        got += n
    return buf


def event(text):
    request(EVENT, 0, text.encode())


def power(event):
    # The runner kills the VM on this event; waiting keeps the firmware from
    # running on, as after a real reset. A constant event allocates nothing:
    # a board's reset() works on a full heap, so must this one.
    import time
    request(EVENT, 0, event)
    time.sleep(3)
    raise SystemExit(200)  # no runner listening: end anyway


def deliver():
    """Hand each IRQ pin's edges counted by the runner to its handler."""
    for pin, handler in irqs:
        b = request(EDGES, pin.id, reply=2)
        if handler is not None:
            for _ in range((b[0] << 8) | b[1]):
                handler(pin)
