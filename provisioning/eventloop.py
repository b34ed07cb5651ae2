"""asyncio.run on uvloop where it is installed: a boot storm's handshakes are mostly the
event loop's own work (bench/fleet.py), which uvloop does in C. The server, its HTTP
workers and the light devices of the fleet simulation all run on it."""
import asyncio


def run(coro):
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
