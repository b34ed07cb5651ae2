# Small JSON files on the flash, written atomically (temp file, then rename):
# a power cut leaves the old file or the new one, never half of one.
import json
import os


def load(name, default=None):
    try:
        with open(name) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def save(name, obj):
    tmp = name + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    try:
        os.rename(tmp, name)
    except OSError:
        # FAT cannot rename over an existing file.
        os.remove(name)
        os.rename(tmp, name)
