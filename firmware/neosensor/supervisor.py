# Supervises a boot, started by main.py: runs its set-up phase (setup.py:
# Wi-Fi, sensOCampus, I2C scan, then the boot plan and a soft reset), then
# its loop phase (assemble.py builds app.py's App from that plan); never lets
# either brick the board. The plan is taken (removed) when the loop phase
# starts: any other reset than setup's own soft reset goes through the
# set-up again.
# crash.count counts crashes in a row (an exception out of the app, or a
# watchdog reset: a hang); the first working MQTT link clears it. After
# _SAFE_AFTER of them the board stays in safe mode (set-up access point and
# REPL) instead of crash-looping. Planned resets (no Wi-Fi, sensOCampus
# unreachable) are not crashes: a long campus outage must not park every
# board in safe mode. Ctrl-C on the console is let through: the REPL is
# always reachable.
import machine
from micropython import const

_SAFE_AFTER = const(5)


def _crashes(n=None):
    try:
        if n is None:
            with open("crash.count") as f:
                return int(f.read() or 0)
        with open("crash.tmp", "w") as f:
            f.write(str(n))
        import os
        try:
            os.rename("crash.tmp", "crash.count")
        except OSError:
            # FAT (an ESP8266's default filesystem) renames onto no existing
            # file: a count stuck at 1 would never reach safe mode. A reset
            # between the two loses the count (read as 0), never a boot.
            os.remove("crash.count")
            os.rename("crash.tmp", "crash.count")
    except (OSError, ValueError):
        return 0


def run():
    n = _crashes()
    if machine.reset_cause() == machine.WDT_RESET:
        n += 1
        _crashes(n)
        print("neosensor: reset by the watchdog: the firmware hung (a held I2C bus, a stuck socket); "
              "%d failed boots in a row" % n)
    if n >= _SAFE_AFTER:
        print("neosensor: %d failed boots in a row: safe mode (set-up portal + REPL); save the "
              "portal's form, or remove crash.count from the REPL, to try again" % n)
        from neosensor import safe
        safe.run(n)
        return
    try:
        from neosensor import plan, unload
        ready = plan.ready()
        del plan
        unload("neosensor.plan")  # the phases load it again, where they use it
        if ready:
            from neosensor import app
            app.run()
        else:
            # An update on trial counted (and rolled back) before the set-up
            # it may break: a setup.py that does not even import included.
            from neosensor import ota
            back = ota.boot()
            del ota
            unload("neosensor.ota", "neosensor.stage")
            if not back:
                from neosensor import setup
                setup.run()
    except KeyboardInterrupt:
        raise
    except Exception as e:
        import sys
        print("neosensor: crashed:")
        sys.print_exception(e)
        _crashes(n + 1)
    machine.reset()
