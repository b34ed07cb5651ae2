# The virtual board's wiring: the peripheral fakes (machine, network,
# ntptime) reach the runner (provisioning/virtual_board.py) over one loopback
# socket. The runner holds the simulated chips (drivers.sim, in CPython), the
# radio's state, the input pins, the watchdog and the power switch; the VM
# only holds this small proxy, so the fakes cost the firmware's heap almost
# nothing. Nothing in firmware/ imports this module: only the fakes do.
#
# Frame to the runner: op, address, n_write, n_read, flags, 0, then n_write
# bytes. Ops: X (I2C transfer; flags bit 0 = STOP; reply: status byte, 0 or
# an errno, then n_read bytes), S (scan; reply: count, addresses), P (pin
# level; address = pin), N (radio: reply 0 ok, 1 fail, 2 down; bit 3 = NTP
# unreachable), E (event line to the runner, no reply).
import json
import os
import socket

_DIR = os.getenv("NEOC_VBOARD") or "."
board = {}
try:
    with open(_DIR + "/board.json") as f:
        board = json.load(f)
except OSError:
    pass
_sock = None
_hdr = bytearray(6)
_one = bytearray(1)


def _link():
    global _sock
    if _sock is None:
        s = socket.socket()
        s.connect(socket.getaddrinfo("127.0.0.1", board.get("port", 0))[0][-1])
        _sock = s
    return _sock


def request(op, addr=0, data=None, nread=0, flags=0):
    s = _link()
    h = _hdr
    h[0] = op
    h[1] = addr
    h[2] = len(data) if data else 0
    h[3] = nread
    h[4] = flags
    s.write(h)
    if data:
        s.write(data)


def byte():
    _read_into(_one)
    return _one[0]


def _read_into(buf):
    mv = memoryview(buf)
    got = 0
    while got < len(buf):
        n = _sock.readinto(mv[got:])
        if not n:
            raise OSError(5)  # runner gone: the board is being powered off
        got += n


read_into = _read_into


def event(text):
    request(69, 0, text.encode())  # "E"


def radio():
    request(78)  # "N"
    return byte()
