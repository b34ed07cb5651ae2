"""A firmware release for the over-the-air update: the files a board's flash
holds (as `neoc flash` would put them there, config.json aside) and the
manifest the board checks them against (firmware/neosensor/ota.py).

    files = from_tree("romfs", arch, revision)    {path on the board: bytes}
    files = from_dir(folder)                      a flash tree made earlier
    doc = manifest(files)                         revision, files, owns
"""
import json
import pathlib

from toolchain.deploy import FIRMWARE_JSON
from toolchain.flashing import CA, CONFIG, owned, sha, tree

# Never part of a release: the board's own settings, and what the stub serves.
NOT_RELEASED = {CONFIG, CA, "/default.json"}
# mpy-cross -march of each board type's MicroPython.
ARCH = {"esp8266": "xtensa", "esp32": "xtensawin"}


class ReleaseError(ValueError):
    pass


def from_tree(mode, arch=None, revision=None):
    """The repository's firmware compiled as the flashing tool does, stamped
    with revision (default: app.py's)."""
    return tree(mode, arch, rev=revision)


def from_dir(folder):
    """The files of a folder laid out as a board's flash (a copy of one, or
    `neoc release build`'s output)."""
    folder = pathlib.Path(folder)
    if not (folder / FIRMWARE_JSON).is_file():
        raise ReleaseError("%s: no %s (revision, deploy, arch): not a firmware tree" % (folder, FIRMWARE_JSON))
    files = {}
    for f in sorted(folder.rglob("*")):
        rel = "/" + f.relative_to(folder).as_posix()
        if f.is_file() and rel not in NOT_RELEASED and not any(part.startswith(".") for part in
                                                               f.relative_to(folder).parts):
            files[rel] = f.read_bytes()
    return files


def info(files):
    """firmware.json's dict of a release's files."""
    try:
        doc = json.loads(files["/" + FIRMWARE_JSON])
    except (KeyError, ValueError):
        raise ReleaseError("the release has no readable /%s" % FIRMWARE_JSON) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("revision"), int):
        raise ReleaseError("/%s has no integer revision" % FIRMWARE_JSON)
    return doc


def manifest(files):
    """default.json's content (the stub adds the historic `image` URL)."""
    doc = info(files)
    return {"revision": doc["revision"], "deploy": doc.get("deploy"),
            "files": [[p, len(d), sha(d)] for p, d in sorted(files.items())],
            "owns": sorted(owned())}


def write(folder, files):
    """The release as a folder: its files and default.json."""
    folder = pathlib.Path(folder)
    for path, data in files.items():
        target = folder / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (folder / "default.json").write_text(json.dumps(manifest(files), indent=1))
    return folder
