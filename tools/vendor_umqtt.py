"""Compare firmware/lib/umqtt/simple.py, a fork, with micropython-lib's upstream.

pip cannot build the `micropython-umqtt.*` sdists (they are MicroPython
packages), so this fetches the archive through the registry's JSON API,
checks it against the digest the registry publishes and against the digests
VENDORED.md records, and prints the diff from upstream to the fork. The fork
is never overwritten: moving to a newer upstream is done by hand, with this
diff (and VENDORED.md's list of changes) as the guide.
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


def recorded(table):
    """{file: (archive sha256, upstream file sha256)} from VENDORED.md."""
    import re
    rows = re.findall(r"^\| (\w+\.py) \|.*\| ([0-9a-f]{64}) \| ([0-9a-f]{64}) \|$", table, re.M)
    return {name: (archive, upstream) for name, archive, upstream in rows}


def main(argv=None):
    import difflib
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=pathlib.Path, default=DEST, help="the folder holding the fork")
    args = parser.parse_args(argv)
    known = recorded((args.dest / "VENDORED.md").read_text())
    status = 0
    for name, version, member in SOURCES:
        filename, archive_digest, data = fetch_sdist(name, version)
        upstream = extract(data, member)
        want = known.get(member)
        got = (archive_digest, hashlib.sha256(upstream).hexdigest())
        if want != got:
            print("%s: upstream %s is not what VENDORED.md records (%s, want %s)" % (member, filename, got, want))
            status = 1
        fork = (args.dest / member).read_text().splitlines(keepends=True)
        sys.stdout.writelines(difflib.unified_diff(upstream.decode().splitlines(keepends=True), fork,
                                                   "upstream/umqtt/" + member, "fork/umqtt/" + member))
    return status


if __name__ == "__main__":
    sys.exit(main())
