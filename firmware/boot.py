# Runs first after every reset. Kept tiny: a syntax error here would keep the
# board from ever reaching main.py's safe mode.
import gc
import os
try:
    os.stat("neosensor_romwrite.mpy")
except OSError:
    pass        # the usual boot
else:
    # An update's ROMFS partition write handed over by neosensor/stage.py
    # (nothing may run from the partition while it is rewritten): done by its
    # copy on the filesystem, which resets. Only names the firmware has
    # already are compiled here (a new one would take the loop's heap).
    __import__("neosensor_romwrite")
gc.collect()
