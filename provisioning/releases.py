"""Firmware releases on the stub, laid out as the campus image server's tree:

    <data>/images/<board>/neOSensor/default.json          the current release
    <data>/images/<board>/neOSensor/<revision>/<path>     its files

served at /images/ to the boards (firmware/neosensor/ota.py). A release is
published in two steps through the admin API: each file PUT (streamed to a
temporary name, then renamed), then the manifest POSTed, which is checked
against the stored files and only then becomes default.json (atomically):
a board never sees a release whose files are not all there.
"""
import hashlib
import json
import os
import pathlib
import re

BOARDS = ("esp8266", "esp32")
MAX_FILE = 16 << 20
_PATH = re.compile(r"^(/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


class ReleaseError(ValueError):
    pass


def _board(board):
    if board not in BOARDS:
        raise ReleaseError("board %r: one of %s" % (board, ", ".join(BOARDS)))
    return board


def _revision(rev):
    try:
        rev = int(rev)
    except (TypeError, ValueError):
        rev = 0
    if not 0 < rev < 1000000:
        raise ReleaseError("revision: a YYMMDD number")
    return rev


def _path(path):
    if not isinstance(path, str) or not _PATH.match(path) or "/.." in path or len(path) > 200:
        raise ReleaseError("file path %r: absolute, made of letters, digits, '_', '-' and '.'" % (path,))
    return path


class Releases:
    def __init__(self, data_dir):
        self.root = pathlib.Path(data_dir) / "images"
        for board in BOARDS:
            (self.root / board / "neOSensor").mkdir(parents=True, exist_ok=True)

    def _dir(self, board, rev):
        return self.root / _board(board) / "neOSensor" / str(_revision(rev))

    def file_target(self, board, rev, path):
        """Where a release file goes (checked: no way out of the tree)."""
        return self._dir(board, rev) / _path("/" + path.lstrip("/"))[1:]

    @staticmethod
    def write(target, chunks):
        """Store an uploaded file from an iterable of byte chunks; its (size, sha256)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        h, size = hashlib.sha256(), 0
        try:
            with open(tmp, "wb") as f:
                for chunk in chunks:
                    size += len(chunk)
                    if size > MAX_FILE:
                        raise ReleaseError("a release file is at most %d bytes" % MAX_FILE)
                    h.update(chunk)
                    f.write(chunk)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        return size, h.hexdigest()

    def publish(self, board, manifest, base_url=None):
        """Check a manifest against the stored files and make it the
        board's default.json. Returns the document written."""
        if not isinstance(manifest, dict):
            raise ReleaseError("the manifest is a JSON object")
        rev = _revision(manifest.get("revision"))
        files = manifest.get("files")
        if not isinstance(files, list) or not files:
            raise ReleaseError("files: a list of [path, size, sha256]")
        folder = self._dir(board, rev)
        checked = []
        for entry in files:
            if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[1], int)
                    and isinstance(entry[2], str) and _SHA.match(entry[2])):
                raise ReleaseError("files: %r is not [path, size, sha256]" % (entry,))
            path = _path(entry[0])
            stored = folder / path[1:]
            if not stored.is_file():
                raise ReleaseError("%s: not uploaded for revision %d" % (path, rev))
            data = stored.read_bytes()
            if len(data) != entry[1] or hashlib.sha256(data).hexdigest() != entry[2]:
                raise ReleaseError("%s: the stored file is not the one the manifest describes" % path)
            checked.append([path, entry[1], entry[2]])
        owns = manifest.get("owns", [])
        if not isinstance(owns, list) or not all(isinstance(n, str) and n and "/" not in n and n[0] != "."
                                                 and n != "config.json" for n in owns):
            raise ReleaseError("owns: top-level names of the firmware's files")
        paths = [p for p, _, _ in checked]
        image = "/romfs.img" if "/romfs.img" in paths else paths[0]
        doc = {"revision": rev, "deploy": manifest.get("deploy"), "files": checked, "owns": owns,
               # The historic field: the one image a board of the old firmware fetched.
               "image": "%s/%d%s" % (base_url.rstrip("/"), rev, image) if base_url else "%d%s" % (rev, image)}
        target = self.root / _board(board) / "neOSensor" / "default.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, target)
        return doc

    def current(self):
        """{board: {"revision", "deploy", "files", "revisions"}} of what is published."""
        out = {}
        for board in BOARDS:
            folder = self.root / board / "neOSensor"
            try:
                doc = json.loads((folder / "default.json").read_text())
            except (OSError, ValueError):
                doc = {}
            revs = sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())
            out[board] = {"revision": doc.get("revision"), "deploy": doc.get("deploy"),
                          "files": len(doc.get("files") or []),
                          "bytes": sum(f[1] for f in doc.get("files") or []), "revisions": revs}
        return out
