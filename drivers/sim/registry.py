"""The chip models by the names the virtual board takes (`neoc board run
--chip NAME@ADDR`): drivers/sim/NAME.py, holding one model class of its own
(a Model subclass), is chip NAME; ALIASES adds other names for a model.

    from drivers.sim.registry import models
    models()["sht2x"]()       # an SHT2XModel

Imports every model module: for the runner and tests, not for a board.
"""
import os
import sys

from drivers.sim import base

# Chips sold under another name that a model stands for, command for command.
ALIASES = {"htu21d": "sht2x"}
# Modules of this package that model no chip.
_SUPPORT = ("base", "bus", "registry")


def _model_class(module):
    ns = sys.modules[module].__dict__
    # A model module imports its base classes too: only its own subclasses count.
    bases = base.__dict__.values()
    own = [c for c in ns.values() if isinstance(c, type) and issubclass(c, base.Model) and c not in bases]
    if len(own) != 1:
        raise TypeError("%s: want exactly one chip model class (a drivers.sim.base.Model subclass), found %s"
                        % (module, ", ".join(sorted(c.__name__ for c in own)) or "none"))
    return own[0]


def models():
    """{chip name: model class}, names sorted, aliases included."""
    here = __file__.rpartition("/")[0] or "."
    found = {}
    for f in sorted(os.listdir(here)):
        name = f[:-3]
        if not f.endswith(".py") or name.startswith("_") or name in _SUPPORT:
            continue
        module = "drivers.sim." + name
        __import__(module)
        found[name] = _model_class(module)
    for alias, name in sorted(ALIASES.items()):
        found[alias] = found[name]
    return dict(sorted(found.items()))
