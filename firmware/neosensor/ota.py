# Over-the-air updates, in the set-up phase only (this code and its buffers
# never reach the loop's heap).
#
# The historic scheme: <images>/<board>/neOSensor/default.json says the
# release's `revision` (YYMMDD) and, beyond the historic `image` URL, its
# `files` ([path, size, sha256], fetched from `base` + path) and the
# top-level names the firmware `owns` (its files there that the release has
# not are removed). check() fetches what differs into stage.py's staging
# area, checks the free flash first and every hash, then switches, the old
# files kept in PREV. The new firmware is then on trial (TRIAL): boot()
# counts its boots, app.py removes TRIAL at its first good MQTT link, and
# after _TRIES boots without one the kept files go back in place. LAST
# says what the last update did: {"revision", "failed"}.
import json
import os
from micropython import const
from neosensor import stage, store

TRIAL = "ota.json"
LAST = "update.json"
ORDER = "upgrade.json"   # the `upgrade` order's URL, for the next set-up
PREV = "/.prev"
INFO = "firmware.json"
_TRIES = const(3)
_SPARE = const(8192)     # flash left free after staging (state files, the outbox's growth)


def revision():
    info = store.load(INFO)
    r = info.get("revision") if isinstance(info, dict) else None
    return r if isinstance(r, int) else 0


def failed():
    last = store.load(LAST)
    r = last.get("failed") if isinstance(last, dict) else None
    return r if isinstance(r, int) else None


def _remove(name):
    try:
        os.remove(name)
    except OSError:
        pass


def boot():
    """Every boot that goes through the set-up, before it: finish a cut
    switch, count the boots of a firmware on trial and roll it back after
    _TRIES; a trial passed (TRIAL removed by app.py) frees PREV. Returns
    True when the board must reset (rolled back)."""
    stage.resume()
    trial = store.load(TRIAL)
    if not isinstance(trial, dict):
        if stage._exists(PREV):
            stage._rmtree(PREV)
            print("ota: revision %d passed its trial: the previous firmware removed" % revision())
        return False
    n = trial.get("boots", 0) + 1
    if n <= _TRIES:
        trial["boots"] = n
        store.save(TRIAL, trial)
        print("ota: revision %s on trial, boot %d of %d" % (trial.get("to"), n, _TRIES))
        return False
    print("ota: revision %s did not reach a working MQTT link in %d boots: back to revision %s"
          % (trial.get("to"), _TRIES, trial.get("from")))
    store.save(LAST, {"revision": trial.get("from"), "failed": trial.get("to")})
    stage.restore(PREV)
    _remove(TRIAL)
    _remove("crash.count")   # the old firmware's boots start again from none
    return True


def url(cfg, board):
    """default.json's URL: the `upgrade` order's, else config.json's
    "images" (or the sensOCampus server's /images) for this board; None
    when there is neither (sandbox)."""
    order = store.load(ORDER)
    _remove(ORDER)
    if isinstance(order, dict) and order.get("url"):
        return order["url"]
    base = cfg.get("images") or cfg.get("sensocampus")
    if not base:
        return None
    if not cfg.get("images"):
        base = base.rstrip("/") + "/images"
    return "%s/%s/neOSensor/default.json" % (base.rstrip("/"), board)


def _release(doc):
    # The manifest's checked fields, or a string saying what is wrong.
    if not isinstance(doc, dict):
        return "not a JSON object"
    rev, files, owns = doc.get("revision"), doc.get("files"), doc.get("owns", [])
    if not isinstance(rev, int) or isinstance(rev, bool) or rev <= 0:
        return "revision %r is no YYMMDD number" % (rev,)
    if not isinstance(files, list) or not files or not isinstance(owns, list):
        return "no files list"
    for n in owns:
        if not isinstance(n, str) or not n or "/" in n or n[0] == "." or n == "config.json":
            return "bad owned name %r" % (n,)
    for f in files:
        if (not isinstance(f, list) or len(f) != 3 or not isinstance(f[0], str) or f[0][:1] != "/"
                or ".." in f[0] or f[0].startswith(stage.STAGE) or f[0].startswith(PREV)
                or not isinstance(f[1], int) or f[1] < 0 or not isinstance(f[2], str) or len(f[2]) != 64):
            return "bad file entry %r" % (f,)
    return None


def _free():
    try:
        st = os.statvfs("/")
        return st[0] * st[4]
    except OSError:
        return 1 << 30


def check(cfg, board, feed):
    """Look for a newer release and install it; True when one was switched
    in (the board must reset into it). Any failure is said on the console
    and leaves the firmware as it is: the next boot tries again."""
    where = url(cfg, board)
    if not where:
        return False
    from neosensor import http
    try:
        status, body = http.request("GET", where)
    except OSError as e:
        print("ota: %s unreachable (%r): no update check" % (where, e))
        return False
    if status != 200:
        print("ota: %s: HTTP %d: no update check" % (where, status))
        return False
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    body = None
    wrong = _release(doc)
    if wrong:
        print("ota: %s: %s: not updated" % (where, wrong))
        return False
    rev, cur = doc["revision"], revision()
    if rev <= cur:
        print("ota: revision %d is not newer than this firmware's (%d): nothing to do" % (rev, cur))
        return False
    if rev == failed():
        print("ota: revision %d was rolled back before: not tried again (a newer one will be)" % rev)
        return False
    base = doc.get("base") or where.rpartition("/")[0] + "/%d" % rev
    want, owns = doc["files"], doc.get("owns", [])
    doc = None
    todo = []
    for f in want:
        feed()
        try:
            same = stage.digest(f[0]) == f[2]
        except OSError:
            same = False
        if not same:
            todo.append(f)
    need = sum(f[1] for f in todo)
    free = _free()
    if need + _SPARE > free:
        print("ota: revision %d needs %d B of flash, %d B are free: not updated" % (rev, need + _SPARE, free))
        return False
    print("ota: revision %d: %d of %d files to fetch (%d B)" % (rev, len(todo), len(want), need))
    buf = bytearray(512)
    for f in todo:
        stage.begin(f[0])
        try:
            status, got = http.download(base + f[0], stage.write, buf)
        except OSError as e:
            status, got = 0, -1
            print("ota: %s: %r" % (f[0], e))
        feed()
        whole = status == 200 and got == f[1]
        if not stage.end(f[2] if whole else ""):   # a cut or bad copy is removed
            print("ota: %s: %s: nothing switched in, tried again at the next boot" % (
                f[0], "sha256 differs from the release's" if whole else "HTTP %d" % status
                if status not in (0, 200) else "cut after %d of %d B" % (max(got, 0), f[1])))
            stage._rmtree(stage.STAGE)   # what was staged goes too: no flash held by a failed try
            return False
    for n in _owned(want):
        if n not in owns:
            owns.append(n)
    keep = set(f[0] for f in want)
    removes = []
    for name in owns:
        stage.files("/" + name, lambda p: p not in keep and removes.append(p))
        if "/" + name not in keep and stage._exists("/" + name) and not _is_dir("/" + name):
            removes.append("/" + name)
    rom = "/romfs.img" if "/romfs.img" in [f[0] for f in todo] and stage.partition() else None
    stage._rmtree(PREV)   # a trial passed long ago, never cleared
    store.save(TRIAL, {"from": cur, "to": rev, "boots": 0})
    _remove(LAST)   # an older failed revision is no longer news; this one's trial writes its own
    stage.switch(removes, rom, PREV)
    print("ota: revision %d in place (was %d): reset into it" % (rev, cur))
    return True


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def _owned(files):
    # The top-level names of the release's files: the firmware's own.
    names = []
    for f in files:
        n = f[0][1:].split("/")[0]
        if n not in names:
            names.append(n)
    return names
