"""Benchmark of `neoc flash` (issue 15) beside mpremote, in the same run.

On blank virtual boards (the MicroPython 1.29 unix port, REPL over a
loopback socket), for each deploy, three flashes in a row:
  * full: the blank board gets the whole firmware;
  * unchanged: the same again (nothing to send);
  * one file: one file on the board differs (its copy altered on the flash
    folder), as after a one-file change.
Ours is toolchain.flashing over toolchain.board_link (what `neoc flash` runs,
the local mpy-cross build of the tree included in its time). The baselines
run in this process too (no interpreter start-up counted): for the .mpy
deploy `mpremote fs cp -r` of the same compiled tree (1.24+: it skips a file
whose sha256 on the board matches), for the ROMFS deploy `mpremote romfs
deploy` of the same image. The virtual board's ROMFS partition is its
/romfs.img file, which mpremote cannot reach through vfs.rom_ioctl: a shim
(ROM_SHIM below, run first in the same mpremote command) gives it one
partition backed by that file, so mpremote sends and asks exactly what it
would to an ESP32's partition.

Bytes are those written from the PC to the board, counted by a loopback
proxy for every tool alike. Prints time and bytes per case and the ratios
ours / mpremote; goals: full flash <= 0.6x mpremote's time, unchanged
re-flash <= 0.2x mpremote's unchanged `cp -r` (MET / NOT MET, a figure, not
a failure). Exits 1 when a figure could not be measured, 2 when it cannot
run here (no MicroPython).

    python bench/flash.py [--quick]      (--quick: one round instead of three, and
                                          mpremote fs cp -r of the app folder only)
"""
import argparse
import contextlib
import io
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.cut_proxy import CutProxy  # noqa: E402
from toolchain import micropython as upy  # noqa: E402
from toolchain.board_link import Link  # noqa: E402
from toolchain.deploy import ROMFS_IMAGE, deploy  # noqa: E402
from toolchain.flashing import flash  # noqa: E402

NO_CUT = 1 << 40
CASES = ("full", "unchanged", "one file")
# --quick: mpremote fs cp -r copies the app alone (its ~20 files), not the
# whole tree: the figures are all printed, the cp -r ratios are not the goal's.
QUICK_APP = ["boot.py", "main.py", "neosensor"]
# One ROMFS partition for mpremote, backed by the virtual board's /romfs.img
# (vfs.rom_ioctl's calls as py/vfs_rom_ioctl.h numbers them: 1 count, 2 the
# partition, 3 prepare, 4 write, 5 end, 6 block size). Stands in sys.modules
# for vfs, which mpremote imports by name.
ROM_SHIM = """\
import sys, vfs as _vfs
class _Part:
    def __len__(self): return 262144
class _V:
    VfsRom = _vfs.VfsRom
    umount = staticmethod(lambda p: None)
    mount = staticmethod(_vfs.mount)
    @staticmethod
    def rom_ioctl(op, *a):
        if op == 1: return 1
        if op == 2: return _Part()
        if op == 6: return 4096
        if op == 3:
            open('/romfs.img', 'wb').close()
            return 4096
        if op == 4:
            with open('/romfs.img', 'r+b') as f:
                f.seek(a[1]); f.write(a[2])
            return 0
        if op == 5: return 0
sys.modules['vfs'] = _V()
"""


def blank_board(mac):
    from virtual_board import VirtualBoard
    b = VirtualBoard(mac, blank=True, repl="socket://127.0.0.1:0", echo=False)
    b.start()
    b.wait_for(r'Type "help\(\)"', 30)
    return b


def ours(board, mode):
    proxy = CutProxy(board.repl, NO_CUT)
    t = time.perf_counter()
    link = Link(proxy.url)
    try:
        link.open()
        flash(link, mode=mode)
    finally:
        link.close()
    took = time.perf_counter() - t
    proxy.cut.wait(5)
    return took, proxy.passed


def mpremote(board, args, cwd):
    """One mpremote command run in this process, through the counting proxy."""
    from mpremote.main import main
    proxy = CutProxy(board.repl, NO_CUT)
    argv, here = sys.argv, os.getcwd()
    sys.argv = ["mpremote", "connect", proxy.url, "resume", *args]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    t = time.perf_counter()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out):
            main()
    except SystemExit as e:
        if e.code not in (None, 0):
            raise RuntimeError("mpremote %s exited %s" % (" ".join(args), e.code)) from None
    finally:
        sys.argv = argv
        os.chdir(here)
    took = time.perf_counter() - t
    proxy.cut.wait(5)
    return took, proxy.passed


def alter(board, path):
    target = board.flash / path
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))


def series(tool, mode, tree, round_no, only=None):
    """{case: (seconds, bytes)} on one fresh blank board."""
    board = blank_board("aa:bb:cc:00:99:%02x" % (round_no * 4 + ("ours", "mpremote").index(tool) * 2
                                                 + (mode == "romfs")))
    try:
        if tool == "ours":
            run = lambda: ours(board, mode)  # noqa: E731
        elif mode == "mpy":
            names = only or sorted(p.name for p in tree.iterdir())
            run = lambda: mpremote(board, ["fs", "cp", "-r", *names, ":"], tree)  # noqa: E731
        else:
            run = lambda: mpremote(board, ["exec", ROM_SHIM, "romfs", "deploy", str(tree / ROMFS_IMAGE)],  # noqa: E731
                                   tree)
        got = {"full": run(), "unchanged": run()}
        alter(board, ROMFS_IMAGE if mode == "romfs" else "neosensor/app.mpy")
        got["one file"] = run()
        if mode == "romfs" and (board.flash / ROMFS_IMAGE).read_bytes()[:len((tree / ROMFS_IMAGE).read_bytes())] \
                != (tree / ROMFS_IMAGE).read_bytes():
            raise RuntimeError("%s left another image on the board" % tool)
        return got
    finally:
        board.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one round instead of three; cp -r of the app only")
    args = ap.parse_args()
    reason = upy.unavailable_reason()
    if reason:
        print("cannot run: " + reason)
        return 2
    rounds = 1 if args.quick else 3
    failed = []
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-flash-") as tmp:
        trees = {}
        for mode in ("mpy", "romfs"):
            trees[mode] = pathlib.Path(tmp) / mode
            deploy(trees[mode], mode=mode, arch="x64")   # the same compiled tree for mpremote
        for mode in ("mpy", "romfs"):
            for tool in ("ours", "mpremote"):
                runs = []
                for r in range(rounds):
                    try:
                        runs.append(series(tool, mode, trees[mode], r, QUICK_APP if args.quick else None))
                    except Exception as e:   # a figure not measured: said, and exit 1
                        failed.append("%s %s: %s" % (tool, mode, e))
                        break
                if len(runs) == rounds:
                    results[(tool, mode)] = {c: (statistics.median(r[c][0] for r in runs),
                                                 statistics.median(r[c][1] for r in runs)) for c in CASES}
    baseline = {"mpy": "mpremote fs cp -r", "romfs": "mpremote romfs deploy"}
    print("neoc flash vs mpremote on a blank virtual board (median of %d round%s)" % (rounds, "s" * (rounds > 1)))
    print("%-6s %-10s %10s %10s   %-22s %10s %10s   %6s %6s" % ("deploy", "case", "ours s", "ours B",
                                                               "baseline", "base s", "base B", "time", "bytes"))
    ratios = {}
    for mode in ("mpy", "romfs"):
        a, b = results.get(("ours", mode)), results.get(("mpremote", mode))
        if not a or not b:
            continue
        for case in CASES:
            (ts, nb), (bt, bb) = a[case], b[case]
            ratios[(mode, case)] = ts / bt
            print("%-6s %-10s %10.3f %10d   %-22s %10.3f %10d   %5.2fx %5.2fx" % (
                mode, case, ts, nb, baseline[mode], bt, bb, ts / bt, nb / bb if bb else float("nan")))
    if args.quick:
        print("quick: mpremote fs cp -r copied %s only; its mpy ratios are not the goals' (run without --quick)"
              % " ".join(QUICK_APP))
    for mode in ("mpy", "romfs"):
        if (mode, "full") in ratios:
            print("goal ours <= 0.6x %s's time, full flash (%s): %.2fx %s" % (
                baseline[mode], mode, ratios[(mode, "full")], "MET" if ratios[(mode, "full")] <= 0.6 else "NOT MET"))
    for mode in ("mpy", "romfs"):
        if (mode, "unchanged") in ratios and ("mpy", "unchanged") in ratios:
            r = results[("ours", mode)]["unchanged"][0] / results[("mpremote", "mpy")]["unchanged"][0]
            print("goal ours <= 0.2x mpremote's unchanged cp -r, unchanged re-flash (%s): %.2fx %s"
                  % (mode, r, "MET" if r <= 0.2 else "NOT MET"))
    for f in failed:
        print("NOT MEASURED " + f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
