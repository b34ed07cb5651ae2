"""Out of memory in the loop phase, made certain with micropython.heap_lock() in the
real VM on the virtual board (its fake machine.reset() allocates nothing, as a
board's): a restart order is carried out whatever its status meets, an order or a
loop turn that finds no room is dropped and counted, and the MQTT link survives a
publish that could not be allocated (its stream stays whole)."""
import pytest

from harness import ROOT, need
from toolchain import micropython as upy
from toolchain.mpy import compile_tree
from virtual_board import VirtualBoard

pytestmark = [pytest.mark.slow, pytest.mark.micropython]

MAC = "aa:bb:cc:00:44:01"

# An App with one stand-in device module; the link and the radio as a connected
# board has them, minus the socket.
PRELUDE = """
import machine, micropython
from neosensor import app, link, wifi

class Device:
    name = "device"
    errors = foreign = 0
    frequency = 1800
    def command(self, msg):
        return ("restart", None) if msg == b"restart" else ("status", None)
    def topic(self, base):
        return base + "/device"
    def status(self, time_str, fields):
        return ["{}"]

if machine.reset_cause() != machine.PWRON_RESET:
    print("after reset, cause", machine.reset_cause())
    while True:
        machine.idle()
wdt = machine.WDT(timeout=30000)
a = app.App({"wifi": [], "ntp": False, "base": "u4/302", "board": "esp8266"}, wdt.feed, 0)
d = Device()
a.device = d
a.modules.append(d)
link.up = True
link.poll = lambda: None
wifi.connected = lambda: True
a.wifi_check = 1 << 29
sent = []
a.publish = lambda topic, parts: sent.append(topic)
"""

RESTART = PRELUDE + """
a._on_message(b"u4/302/device/command", b"restart")
print("state", a.state, "wanted", len(a.wanted))
def no_room(m):
    raise MemoryError("no room for the status")
a.status = no_room
a.loop()
print("loop returned without a reset")
"""

ORDER_AND_TURN = PRELUDE + """
micropython.heap_lock()
a._on_message(b"u4/302/device/command", b"status")
micropython.heap_unlock()
print("after a locked order: nomem", link.nomem, "wanted", len(a.wanted))
a._on_message(b"u4/302/device/command", b"status")
print("after a free order: wanted", len(a.wanted))
turns = [0]
def status_then_restart(m):
    turns[0] += 1
    if turns[0] == 1:
        raise MemoryError("first turn")
    print("status sent on turn", turns[0], "nomem", link.nomem)
    a.state = "rebooting"
a.status = status_then_restart
a._on_message(b"u4/302/device/command", b"status")
a.loop()
"""


@pytest.fixture
def flash(tmp_path):
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    d = tmp_path / "flash"
    compile_tree(ROOT / "neocampus", d / "lib" / "neocampus")
    compile_tree(ROOT / "firmware" / "lib", d / "lib")
    compile_tree(ROOT / "firmware" / "neosensor", d / "lib" / "neosensor")
    return d


def _run(flash, script):
    (flash / "main.py").write_text(script)
    return VirtualBoard(MAC, flash_dir=flash, blank=True, heap="64k", echo=False)


def test_a_restart_order_resets_even_when_its_status_finds_no_room(flash):
    with _run(flash, RESTART) as b:
        b.wait_for(r"^state rebooting wanted 1$", 20)
        b.wait_for(r"^loop: out of memory$", 5)
        b.wait_for(r"^after reset, cause", 20)
        assert b.boots[:2] == ["power", "reset"], b.lines
        assert not any("loop returned" in line for line in b.lines), b.lines


def test_an_order_or_a_turn_without_room_is_dropped_counted_and_the_loop_goes_on(flash):
    with _run(flash, ORDER_AND_TURN) as b:
        b.wait_for(r"^command dropped: out of memory$", 20)
        b.wait_for(r"^after a locked order: nomem 1 wanted 0$", 5)
        b.wait_for(r"^after a free order: wanted 1$", 5)
        b.wait_for(r"^loop: out of memory$", 5)
        # The failed turn dropped the ordered status; the loop went on to the next
        # turn, whose periodic status went out.
        b.wait_for(r"^status sent on turn 2 nomem 2$", 10)
        b.wait_for(r"^after reset, cause", 20)
