"""Over-the-air update figures on the virtual board (ROMFS deploy, default heap)
against `neoc server` (embedded broker):

- update time for a one-file release (the ROMFS image; firmware.json is the
  second changed file), from the `upgrade` order to the first MQTT link of
  the new firmware, beside a plain reboot (an `upgrade` with no newer
  release) measured in the same run: the ratio is what an update costs;
- what the feature takes: ota.py and stage.py compiled (bytes on the flash,
  or in the ROMFS image), and the loop's free heap in its `device` status
  with and without an update check at boot.

    .venv/bin/python bench/ota.py [--runs N]
"""
import argparse
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from provisioning.stub_process import StubServer  # noqa: E402
from toolchain import micropython as upy  # noqa: E402
from toolchain.firmware import FIRMWARE, revision  # noqa: E402
from toolchain.mpy import compile_file  # noqa: E402
from virtual_board import DEFAULT_HEAP, VirtualBoard  # noqa: E402

MAC = "aa:bb:cc:00:be:0a"
MAC0 = "aa:bb:cc:00:be:0b"   # the board without an update check
ROOM = "bench/ota"
HEAP = re.compile(r'^pub [^ ]+/device .*"status": "(?:starting|running)".*"heap": (\d+)')


def publish(stub, rev):
    subprocess.run([sys.executable, "-m", "neoc", "release", "publish", "--from-tree", "--board", "esp8266",
                    "--arch", "none", "--revision", str(rev), "--server", stub.url, "--token", stub.token],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True)


def order_to_link(stub, board):
    start = len(board.lines)
    t0 = time.monotonic()
    stub.admin.order(MAC, "upgrade")
    board.wait_for(r"^--- boot \d+ \(reset\)", 30, start)
    board.wait_for(r"^mqtt: connected", 90, start)
    return time.monotonic() - t0, start


def heap_after(board, start):
    board.wait_for(HEAP.pattern, 30, start)
    return [int(m.group(1)) for m in map(HEAP.search, board.lines[start:]) if m][-1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="updates (and reboots) measured (default 3)")
    args = ap.parse_args(argv)
    reason = upy.unavailable_reason()
    if reason:
        print("ota bench: skipped: %s" % reason)
        return 0
    with tempfile.TemporaryDirectory(prefix="neoc-bench-ota-") as tmp:
        tmp = pathlib.Path(tmp)
        for name in ("ota", "stage"):
            size = compile_file(FIRMWARE / "neosensor" / (name + ".py"), tmp / (name + ".mpy")).stat().st_size
            print("flash: neosensor/%s.mpy %d B" % (name, size))
        stub = StubServer(tmp / "stub")
        stub.start()
        try:
            for mac, room in ((MAC, ROOM), (MAC0, ROOM + "0")):
                stub.admin.add_device(mac, location=room, modules=[{"module": "digital", "params": [
                    {"param": "input", "value": 13}]}])
            no_check = VirtualBoard(MAC0, server=stub.url, wifi=("campus", "x"), heap=DEFAULT_HEAP, echo=False,
                                    broker=(stub.mqtt_host, stub.mqtt_port), flash_dir=tmp / "flash0",
                                    config_extra={"images": "http://127.0.0.1:9/none"})
            no_check.start()
            try:
                no_check.wait_for(r"^mqtt: connected", 90)
                base_heap = heap_after(no_check, 0)
            finally:
                no_check.stop()
            board = VirtualBoard(MAC, server=stub.url, wifi=("campus", "x"), heap=DEFAULT_HEAP, echo=False,
                                 broker=(stub.mqtt_host, stub.mqtt_port), flash_dir=tmp / "flash")
            board.start()
            try:
                board.wait_for(r"^mqtt: connected", 90)
                rev = revision()
                reboots, updates, heaps = [], [], []
                for i in range(args.runs):
                    took, start = order_to_link(stub, board)       # nothing newer: a check, then a reboot
                    reboots.append(took)
                    rev += 1
                    publish(stub, rev)
                    took, start = order_to_link(stub, board)
                    board.wait_for(r"^ota: revision %d on trial" % rev, 5, start)
                    updates.append(took)
                    heaps.append(heap_after(board, start))
                    print("run %d: reboot %.2f s, update to %d %.2f s" % (i + 1, reboots[-1], rev, took))
            finally:
                board.stop()
        finally:
            stub.stop()
    r, u = statistics.median(reboots), statistics.median(updates)
    print("update of a one-file release (order to first MQTT link): %.2f s median of %d; plain reboot %.2f s; "
          "ratio %.2f" % (u, len(updates), r, u / r))
    print("loop free heap at its first status: %d B after an update, %d B with the update check unreachable "
          "(default heap %s)" % (min(heaps), base_heap, DEFAULT_HEAP))
    return 0


if __name__ == "__main__":
    sys.exit(main())
