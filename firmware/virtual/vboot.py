# What the board's ROM does after a reset. The peripheral fakes are loaded
# first (they sit outside the flash); then the flash folder becomes the
# filesystem root and the import path is a board's ('', '.frozen', '/lib'),
# so "/config.json" or mpremote's ":/lib/..." mean the flash, never the host.
# Then boot.py, main.py, and the REPL (the runner starts us with -i). A
# KeyboardInterrupt (Ctrl-C on the console) stops them, as on a board.
import gc
import os
import sys
import vfs
import vboard
import machine
import network
import ntptime

vboard.lib = vboard.__file__.rpartition("/")[0]  # the fakes' folder, for machine's lazy names
_flash = os.getcwd()
vfs.umount("/")
vfs.mount(vfs.VfsPosix(_flash), "/")
os.chdir("/")
sys.path[:] = ["", ".frozen", "/lib"]
del _flash, vboard, machine, network, ntptime


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
        sys.print_exception(e)
    gc.collect()


_run("boot.py")
_run("main.py")
del _run
