"""The virtual neOSensor board: the real MicroPython unix port running the
firmware from a folder that stands for the board's flash (the VM's
filesystem root, with a board's import path).

The VM gets, ahead of its built-ins, the peripheral fakes of firmware/virtual/
(machine, network, ntptime), in a ROMFS image standing for the board's ROM.
By default the firmware is deployed as a ROMFS board's flashing tool does it:
boot.py, main.py and config.json as files, the code in /romfs.img, run in
place. The VM's -X heapsize is the heap asked for plus the exact size of the
buffers holding the images (they stand for flash), so the firmware has
exactly the heap asked for. This runner plays the parts of the board a VM
cannot: the serial console (a pty, shown with a prefix and offered as a TCP
"serial port" for mpremote), the power switch (a reset or deepsleep ends the
process and the runner boots it again), the hardware watchdog (a late feed
kills the VM) and the outside world: the simulated chips (drivers.sim models,
here in CPython, reached by the VM's fake I2C over a loopback socket, so they
cost the board's heap nothing), the Wi-Fi state and the input pins, all
settable while it runs.

    board = VirtualBoard(mac="aa:bb:cc:00:11:22", server="http://127.0.0.1:8000",
                         wifi=("campus", "secret"),
                         chips=["mcp9808@0x18:temperature=21.5", "tsl2561@0x39:lux=300"])
    board.start(); board.wait_for(r"^mqtt: connected"); board.set(0x18, temperature=25)
    board.stop()

Rooms: spec (board types, chips, quantities), heap (the -X heapsize
arithmetic), rom (the fakes' ROM image and the VM's bootstrap), hardware
(the chips, pins and radio the runner plays), runner (VirtualBoard), cli
(`neoc board run`).
"""
from virtual_board.heap import DEFAULT_HEAP, heap_bytes, vm_heap
from virtual_board.runner import VirtualBoard
from virtual_board.spec import BOARDS, CHIPS, BoardError, drift_value, parse_chip, parse_quantity

__all__ = ["BOARDS", "CHIPS", "DEFAULT_HEAP", "BoardError", "VirtualBoard", "drift_value", "heap_bytes",
           "parse_chip", "parse_quantity", "vm_heap"]
