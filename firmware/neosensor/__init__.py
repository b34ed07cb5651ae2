# Helpers both phases of a boot use (setup.py, then app.py).
import gc
import sys
import time


def unload(*names):
    # A package keeps its imported submodules as attributes: drop both refs.
    for name in names:
        sys.modules.pop(name, None)
        pkg, _, attr = name.rpartition(".")
        try:
            delattr(sys.modules[pkg], attr)
        except (KeyError, AttributeError):
            pass
    gc.collect()


def pause(ms, feed):
    """Sleep `ms` feeding the watchdog."""
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < ms:
        feed()
        time.sleep_ms(100)
