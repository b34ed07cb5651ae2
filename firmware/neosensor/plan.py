# The boot plan: what the set-up phase (setup.py) hands the loop phase
# (assemble.py) across the soft reset, as small files on the flash read one
# at a time (parsed whole, the plan was a 3.5 KB peak on top of everything
# built from it). Both phases write and take it through this module only,
# and each unloads it when done.
#
#   plan_0.json   the bus: [pins, chips]; pins [sda, scl]; a chip
#                 [driver module, class name, address]
#   plan_<n>.json one module (n = 1..DONE["modules"]): [quantity, config],
#                 quantity the driver quantity feeding it (None: GPIO-fed),
#                 config as neocampus.params.checked() makes it
#   plan.json     written last, so it says the set-up is done: mac, base,
#                 creds, ntp, board, wifi, device (checked config), modules,
#                 outbox (the ring's size in records, outbox.fit()),
#                 failed_update (the revision an update rolled back, or None)
#
# Taking a file removes it: once the loop phase has started, any reset goes
# through the set-up again. A file missing or not of its layout (a power cut
# while they were written or taken, a bad write) is not a crash: the set-up
# writes them all again.
from micropython import const
from neosensor import store

DONE = "plan.json"
_PART = "plan_%d.json"

PINS = const(0)     # plan_0.json
CHIPS = const(1)
PATH = const(0)     # a chip
CLASS = const(1)
ADDRESS = const(2)
QUANTITY = const(0)  # plan_<n>.json
CONFIG = const(1)


def ready():
    """True when the set-up phase is done: the loop phase can start."""
    import os
    try:
        os.stat(DONE)
        return True
    except OSError:
        return False


def write_bus(pins, chips):
    store.save(_PART % 0, [pins, chips])


def write_module(n, quantity, config):
    store.save(_PART % n, [quantity, config])


def write_done(board):
    store.save(DONE, board)


def _remove(name):
    import os
    try:
        os.remove(name)
    except OSError:
        pass


def again(name, what):
    """Back to the set-up phase: a soft reset with no plan.json."""
    print("%s unreadable (%r): set-up again" % (name, what))
    _remove(DONE)
    import machine
    machine.soft_reset()


def _take_pair(name):
    entry = store.load(name)
    _remove(name)
    if not isinstance(entry, list) or len(entry) != 2:
        again(name, entry)
    return entry


def take_bus():
    """[pins, chips], the file removed."""
    bus = _take_pair(_PART % 0)
    for chip in bus[CHIPS]:
        if not isinstance(chip, list) or len(chip) != 3:
            again(_PART % 0, chip)
    return bus


def take_module(n):
    """[quantity, config] of module file n, the file removed."""
    name = _PART % n
    entry = _take_pair(name)
    c = entry[CONFIG]
    if not isinstance(c, dict) or "module" not in c:
        again(name, c)
    return entry


def take_done():
    """plan.json's dict, the file removed."""
    board = store.load(DONE)
    if not isinstance(board, dict):
        again(DONE, board)
    _remove(DONE)
    return board
