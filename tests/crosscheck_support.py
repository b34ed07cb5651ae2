"""Shared by the tests/test_crosscheck_*.py files: public drivers written elsewhere
(Adafruit's CircuitPython drivers through Blinka, smbus2-based PyPI packages) run
against drivers/sim models through SimBus, passed directly as their bus object."""
import importlib
import os
import time

import pytest

from harness import IN_CI

# Blinka detects the board when busio/digitalio are imported. Nothing here opens a real
# bus (SimBus is the i2c object), so pin detection to a generic PC: the import then
# behaves the same on a laptop, a CI runner or an unknown ARM box.
os.environ.setdefault("BLINKA_FORCEBOARD", "GENERIC_LINUX_PC")
os.environ.setdefault("BLINKA_FORCECHIP", "GENERIC_X86")


class BusTime:
    """Stands for the `time` module inside one public driver module: its sleeps move
    the SimBus clock instead of the wall clock (a 5 s SCD4x shot costs nothing), and
    its clock reads include them. The models' timing is still enforced: a driver that
    sleeps too little reads a NACK or a stale value, as on a real bus."""

    def __init__(self, bus):
        self.bus = bus

    def sleep(self, seconds):
        self.bus.sleep_ms(seconds * 1000)

    # The real clocks plus what the bus skipped, as SimBus.now_ms() is.
    def time(self):
        return time.time() + self.bus.skipped_ms / 1000

    def monotonic(self):
        return time.monotonic() + self.bus.skipped_ms / 1000

    def monotonic_ns(self):
        return time.monotonic_ns() + int(self.bus.skipped_ms * 1000000)


def on_bus_time(monkeypatch, module, bus, name="time"):
    """Give `module` a BusTime as its `name` (the module object or a sleep function)."""
    clock = BusTime(bus)
    monkeypatch.setattr(module, name, clock if name == "time" else clock.sleep)
    return clock


def public_driver(name):
    """Import a public driver module of the `test` extra: skipped when missing, except
    in CI (CI=true), where a missing one fails instead of hiding its cross-check."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        reason = "%s is not installed (%s): pip install -e '.[test]'" % (name, e)
        if IN_CI:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason, allow_module_level=True)
