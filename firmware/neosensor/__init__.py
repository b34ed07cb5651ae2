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


def watchdog_ms(cfg):
    """The watchdog's timeout: config.json's "watchdog" (seconds, 2 to 120), or 30 s."""
    s = cfg.get("watchdog") if isinstance(cfg, dict) else None
    if isinstance(s, int) and not isinstance(s, bool) and 2 <= s <= 120:
        return s * 1000
    return 30000
