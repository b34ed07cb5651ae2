"""The flashing engine: what a board's flash must hold (toolchain.deploy's
tree, compiled locally for the board's architecture, plus /config.json),
compared with what it holds (one hash listing), and the difference sent
through the stage-and-switch of firmware/neosensor/stage.py.

    want = tree("romfs", arch, config)        {path on the board: bytes}
    plan = diff(want, link.listing())         what to send, keep, remove
    apply(link, plan)                         stage, verify, switch
"""
import hashlib
import pathlib
import tempfile

from toolchain.deploy import DEPLOYS, FIRMWARE_JSON as _INFO, ROMFS_IMAGE, deploy
from toolchain.firmware import FIRMWARE, TREES, revision

STAGE = "/.stage"
CONFIG = "/config.json"
CA = "/ca.pem"
# What was flashed, for `neoc board info`: the firmware cannot tell it
# without importing its app.
FIRMWARE_JSON = "/" + _INFO


class FlashError(RuntimeError):
    pass


def owned():
    """Top-level names on the flash that belong to the firmware's code, in
    either deploy: what is there and not in the new tree is removed. The
    firmware's own state (sensocampus.json with its password, seq.json,
    module settings, the outbox) is never in them, nor /config.json and
    /ca.pem (replaced when given, removed only by --erase)."""
    names = {ROMFS_IMAGE, FIRMWARE_JSON[1:]}
    app_exclude = TREES[0][2]
    for entry in FIRMWARE.iterdir():
        rel = pathlib.PurePosixPath(entry.name)
        if entry.name != "__pycache__" and not any(rel.match(p) or p.split("/")[0] == entry.name
                                                   for p in app_exclude):
            names.add(entry.name)
    names.update(place.split("/")[0] for _, place, _ in TREES[1:])
    return frozenset(names)


def config_bytes(server=None, wifi=None, broker=None, sandbox=False, board=None):
    """/config.json's bytes, as toolchain.deploy.write_config lays it out."""
    from toolchain.deploy import write_config
    with tempfile.TemporaryDirectory(prefix="neoc-config-") as tmp:
        write_config(tmp, server, wifi, broker, sandbox, {"board": board} if board else None)
        return (pathlib.Path(tmp) / "config.json").read_bytes()


def tree(mode, arch=None, config=None, ca=None, rev=None):
    """{absolute path on the board: bytes}: exactly what deploy() puts on a
    flash (compiled into a local staging folder, firmware.json included),
    plus /config.json and the CA bundle when given."""
    if mode not in DEPLOYS:
        raise FlashError("deploy %r: one of %s" % (mode, ", ".join(DEPLOYS)))
    want = {}
    with tempfile.TemporaryDirectory(prefix="neoc-flash-") as tmp:
        root = pathlib.Path(tmp)
        deploy(root, mode=mode, arch=arch, revision=rev)
        for f in sorted(root.rglob("*")):
            if f.is_file():
                want["/" + f.relative_to(root).as_posix()] = f.read_bytes()
    if config is not None:
        want[CONFIG] = config
    if ca is not None:
        want[CA] = ca
    return want


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Plan:
    """send: [(path, bytes, sha)] still to stage; staged: paths already
    staged and verified (a cut flash's); keep: unchanged; remove: owned
    files the new tree has not; drop: staged copies not wanted."""

    def __init__(self, send, staged, keep, remove, drop):
        self.send, self.staged, self.keep, self.remove, self.drop = send, staged, keep, remove, drop

    @property
    def bytes(self):
        return sum(len(d) for _, d, _ in self.send)

    @property
    def changed(self):
        return bool(self.send or self.staged or self.remove)

    def describe(self):
        """Lines saying what would be sent and deleted (no file content)."""
        lines = ["send %s (%d B)" % (p, len(d)) for p, d, _ in self.send]
        lines += ["switch in %s (already staged)" % p for p in self.staged]
        lines += ["delete %s" % p for p in self.remove]
        lines.append("%d to send (%d B), %d already staged, %d unchanged, %d to delete"
                     % (len(self.send), self.bytes, len(self.staged), len(self.keep), len(self.remove)))
        return lines


def diff(want, listing):
    """The plan from the wanted tree and the board's {path: sha256}."""
    send, staged, keep, drop = [], [], [], []
    hashes = {p: sha(d) for p, d in want.items()}
    for path, data in want.items():
        if listing.get(path) == hashes[path]:
            if STAGE + path in listing:
                drop.append(path)   # a staged copy of what is already in place
            keep.append(path)
        elif listing.get(STAGE + path) == hashes[path]:
            staged.append(path)
        else:
            send.append((path, data, hashes[path]))
    names = owned()
    remove = sorted(p for p in listing if not p.startswith(STAGE + "/") and p not in want
                    and p.split("/")[1] in names)
    for p in listing:
        if p.startswith(STAGE + "/"):
            target = p[len(STAGE):]
            if p != STAGE + "/.plan" and (target not in want or listing.get(p) != hashes[target]):
                drop.append(target)
    return Plan(send, staged, keep, remove, sorted(set(drop)))


def apply(link, plan, rom=False, progress=None):
    """Stage what the plan sends (verified on the board by sha256), then
    switch it in and remove what goes. rom: the image goes on into the
    board's ROMFS partition. Raises FlashError when a copy does not verify."""
    if plan.drop:
        link.run("\n".join("drop(%r)" % p for p in plan.drop))
    if plan.send:
        good = set(link.send(plan.send, progress))
        bad = [p for p, _, _ in plan.send if p not in good]
        if bad:
            raise FlashError("the board's sha256 of %s differs from what was sent (nothing switched in; "
                             "run the same command again)" % ", ".join(bad))
    if not plan.changed:
        return False
    image = "/" + ROMFS_IMAGE
    moved = [p for p, _, _ in plan.send] + plan.staged
    rom_path = image if rom and image in moved else None
    link.run("print(switch(%r, %r))" % (plan.remove, rom_path))
    return True


def mask(cfg):
    """A /config.json's dict with the Wi-Fi passwords masked (for showing)."""
    cfg = dict(cfg)
    cfg["wifi"] = [dict(net, password="********") if net.get("password") else net
                   for net in cfg.get("wifi") or [] if isinstance(net, dict)]
    return cfg


def choose(info, board=None, mode=None):
    """(board kind, deploy mode, mpy-cross arch) for a board's probe."""
    from toolchain.board_link import arch_of
    arch = arch_of(info["mpy"])
    kind = board or info["board"]
    if kind not in ("esp8266", "esp32"):
        raise FlashError("cannot tell the board type from its MicroPython (%s, %s): pass --board esp8266 or "
                         "--board esp32" % (info["platform"], info["machine"]))
    has_rom = bool(info.get("partition") or info.get("virtual"))
    if mode is None:
        mode = "romfs" if has_rom else "mpy"
    elif mode == "romfs" and not has_rom:
        raise FlashError("this board's MicroPython has no ROMFS partition (vfs.rom_ioctl): use --deploy mpy, or "
                         "flash a build with one (ESP32, ESP8266 FLASH_2M_ROMFS)")
    return kind, mode, arch


def flash(link, board=None, mode=None, config=None, ca=None, before=None, dry_run=False, progress=None):
    """One flash on an opened link. config(kind) -> /config.json bytes or
    None (keep the board's); before(info, plan) runs once the plan is known,
    before anything is written (registration). Returns a summary dict."""
    info = link.info
    kind, mode, arch = choose(info, board, mode)
    resumed, listing = link.listing(resume=True)
    want = tree(mode, arch, config(kind) if config else None, ca)
    plan = diff(want, listing)
    if before:
        before(info, plan)
    result = {"mac": info["mac"], "board": kind, "deploy": mode, "arch": arch, "resumed": resumed,
              "plan": plan, "dry_run": dry_run}
    if not dry_run:
        # Long flashes over a slow UART must not be cut short by the firmware's watchdog.
        if plan.send and info.get("main"):
            link.feed_watchdog()
        result["switched"] = apply(link, plan, rom=bool(info.get("partition")) and mode == "romfs",
                                   progress=progress)
    return result

