# Runs first after every reset. Kept tiny: a syntax error here would keep the
# board from ever reaching main.py's safe mode.
import gc
gc.collect()
