# What the board's ROM does after a reset: run boot.py, then main.py, from the
# flash (the working directory), then the REPL (the runner starts us with -i).
# A KeyboardInterrupt (Ctrl-C on the console) stops them, as on a board.
import gc


def _run(name):
    try:
        open(name).close()
    except OSError:
        return
    try:
        exec(open(name).read(), {"__name__": "__main__"})
    except KeyboardInterrupt:
        print("KeyboardInterrupt in", name)
    except Exception as e:
        import sys
        sys.print_exception(e)
    gc.collect()


_run("boot.py")
_run("main.py")
del _run
