# Runs first after every reset. Kept tiny: a syntax error here would keep the
# board from ever reaching main.py's safe mode.
import gc
try:
    # An update's ROMFS partition write, handed over by neosensor/stage.py:
    # nothing may run from the partition while it is rewritten, so its copy
    # on the filesystem does it, before main.py imports anything from there.
    import romw
    romw.finish()   # resets
except ImportError:
    pass            # none pending (the usual boot)
gc.collect()
