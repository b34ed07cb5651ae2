# Small JSON files on the flash, written atomically (temp file, then rename):
# a power cut leaves the old file or the new one, never half of one.
import json
import os


def load(name, default=None):
    # The temp file is read when the file itself is missing or unreadable: on
    # FAT the old file is removed before the rename (below), and a reset
    # between the two leaves only the new content, complete, in the temp file.
    for n in (name, name + ".tmp"):
        try:
            with open(n) as f:
                return json.load(f)
        except (OSError, ValueError):
            pass
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
