# Started by main.py: runs the neOSensor app; never lets it brick the board.
# A crash counter in the flash counts boots that did not reach a working MQTT
# link: after SAFE_AFTER of them the board stays in safe mode (set-up access
# point and REPL) instead of crash-looping. Ctrl-C on the console is let through, so
# the REPL is always reachable.
SAFE_AFTER = 5


def _crashes(n=None):
    try:
        if n is None:
            with open("crash.count") as f:
                return int(f.read() or 0)
        with open("crash.tmp", "w") as f:
            f.write(str(n))
        import os
        os.rename("crash.tmp", "crash.count")
    except (OSError, ValueError):
        return 0


def run():
    n = _crashes() + 1
    _crashes(n)
    if n > SAFE_AFTER:
        print("neosensor: %d failed boots in a row: safe mode (AP + REPL); "
              "remove crash.count to try again" % (n - 1))
        from neosensor import safe
        safe.run()
        return
    try:
        from neosensor import app
        app.run()
    except KeyboardInterrupt:
        raise
    except Exception as e:
        import sys
        print("neosensor: crashed:")
        sys.print_exception(e)
    import machine
    machine.reset()

