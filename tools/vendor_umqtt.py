"""Reproduce firmware/lib/umqtt from micropython-lib's registry packages.

pip cannot build the `micropython-umqtt.*` sdists (they are MicroPython
packages), so this fetches each archive through the registry's JSON API,
checks it against the digest the registry publishes, and copies the module
files out unmodified. VENDORED.md records where every file came from.
"""
import argparse
import hashlib
import io
import json
import pathlib
import sys
import tarfile
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEST = ROOT / "firmware" / "lib" / "umqtt"
INDEX = "https://pypi.org/pypi/%s/json"
# (distribution, version, file inside the archive's umqtt/ folder)
SOURCES = [
    ("micropython-umqtt.simple", "1.3.4", "simple.py"),
    ("micropython-umqtt.robust", "1.0", "robust.py"),
]


def fetch_sdist(name, version):
    meta = json.load(urllib.request.urlopen(INDEX % name, timeout=60))
    files = meta["releases"].get(version) or sys.exit("%s has no release %s" % (name, version))
    sdist = next(u for u in files if u["packagetype"] == "sdist")
    data = urllib.request.urlopen(sdist["url"], timeout=60).read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sdist["digests"]["sha256"]:
        sys.exit("%s: archive digest %s does not match the registry's %s" % (sdist["filename"], digest, sdist["digests"]["sha256"]))
    return sdist["filename"], digest, data


def extract(data, member_name):
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if member.name.endswith("/umqtt/" + member_name):
                return tar.extractfile(member).read()
    raise SystemExit("umqtt/%s not found in archive" % member_name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=pathlib.Path, default=DEST)
    args = parser.parse_args(argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, version, member in SOURCES:
        filename, archive_digest, data = fetch_sdist(name, version)
        content = extract(data, member)
        (args.dest / member).write_bytes(content)
        rows.append((member, name, version, filename, archive_digest, hashlib.sha256(content).hexdigest()))
        print("vendored %s from %s" % (member, filename))
    lines = [
        "# Vendored: micropython-lib umqtt",
        "",
        "Unmodified copies of micropython-lib's `umqtt.simple` and `umqtt.robust`, MIT licence",
        "(see LICENSE). Reproduce with `make vendor` (tools/vendor_umqtt.py), which fetches the",
        "registry sdists through the JSON API and checks their published sha256.",
        "",
        "The firmware does not rely on `umqtt.robust` (it dies on broker restarts, leaks the old",
        "socket on reconnect and hangs on a lost QoS 1 ack); it keeps its own reconnect loop.",
        "",
        "| file | distribution | version | archive | archive sha256 | file sha256 |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| %s | %s | %s | %s | %s | %s |" % row for row in rows]
    (args.dest / "VENDORED.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
