"""A free loopback port for a program about to be started (a Mosquitto, a
virtual board's portal), shared by the tools and the tests."""
import os
import random
import socket

_pick = random.Random(os.urandom(16))  # not the global one: tests (hypothesis) seed that


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host="127.0.0.1"):
    """A port nothing listens on now, for a program started next to bind.
    Picked at random below the kernel's ephemeral range: a port bind(0)
    hands out comes from that range, where the kernel also takes the local
    port of every outgoing connection, and one of those took such a port
    before the Mosquitto it was for could bind it (seen with the tests on two
    cores, where connections come and go by the thousand)."""
    low = _ephemeral_low()
    for _ in range(100):
        port = _pick.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue  # in use (or in TIME_WAIT): another
            return port
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
