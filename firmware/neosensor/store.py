# Small JSON files on the flash, written atomically (temp file, then rename):
# a power cut leaves the old file or the new one, never half of one.
import json
import os


def _read(name):
    with open(name) as f:
        return json.load(f)


def load(name, default=None):
    try:
        return _read(name)
    except (OSError, ValueError):
        pass
    # The file missing or unreadable: on FAT the old file is removed before
    # the rename (below), and a reset between the two leaves the new content,
    # complete, in the temp file only. Its name is made only then.
    try:
        return _read(name + ".tmp")
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
