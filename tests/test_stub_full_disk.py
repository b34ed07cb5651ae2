"""A full disk costs nothing (issue 19, part 5): the data dir on a small tmpfs that a
filler file fills up. While SQLite cannot write, the collector acknowledges nothing
(Mosquitto keeps the readings in its session), admin calls and a pending device's
credentials call answer 507 (no password whose hash is not kept), a device's config
call still answers, the condition is logged once and shown; when space returns,
every acknowledged reading is stored."""
import os
import subprocess
import sys
import time

import pytest
import requests

from provisioning import mosquitto as mq
from provisioning.stub_process import StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from harness import need  # noqa: E402
from support.durability import Publisher  # noqa: E402
from support.stub_helpers import handshake, wait_until  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path):
    if mq.find("mosquitto") is None:
        need("Mosquitto is not installed: `sudo apt-get install mosquitto`")
    disk = tmp_path / "disk"
    disk.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (%s)" % p.stderr.strip())
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def fill(path):
    """Write zeros into `path` until the file system is full."""
    block = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass
        for size in (4096, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass


def test_full_disk_loses_nothing_and_says_so(small_disk):
    with StubServer(small_disk / "data", broker="mosquitto") as stub:
        mac, pending = "02:f0:00:00:00:01", "02:f0:00:00:00:02"
        stub.admin.add_device(mac, location="u4/full", modules=["temperature"])
        stub.admin.add_device(pending, location="u4/full")
        login, password, _ = handshake(stub, mac)
        pub = Publisher(stub, mac, login, password, "u4/full")
        filler = small_disk / "filler"
        fill(filler)
        pub.run(3000, rate=3000)
        assert pub.wait_acked(3000)
        stats = wait_until(lambda: (lambda s: s if s["store"] != "ok" else None)(stub.admin.collector()),
                           timeout=10)
        assert stats, "the collector never noticed the full disk: %s" % stub.admin.collector()
        assert "cannot write" in stats["store"]
        live = requests.get(stub.url + "/live/state", timeout=5).json()
        assert "cannot write" in live["collector"]["store"]

        r = requests.post(stub.url + "/api/devices", headers={"Authorization": "Bearer " + stub.token},
                          json={"mac": "02:f0:00:00:00:03", "location": "u4/full"}, timeout=5)
        assert r.status_code == 507 and "cannot write" in r.json()["error"]
        cred = requests.get(stub.url + "/device/credentials", params={"mac": pending}, timeout=5)
        assert cred.status_code == 507 and "password" not in cred.text
        cfg = requests.get(stub.url + "/device/config", auth=(login, password), timeout=5)
        assert cfg.status_code == 200 and cfg.json()["topics"] == ["u4/full"]

        time.sleep(2.5)  # a few store retries while full: logged once all the same
        os.unlink(filler)
        stored = wait_until(lambda: len(pub.stored(stub)) >= len(pub.acked), timeout=30)
        lost, duplicated = pub.settle(stub)
        pub.close()
        out = stub.output()
        assert stored, stub.admin.collector()
        assert (lost, duplicated) == (0, 0)
        assert out.count("the registry cannot write") == 1, out[-3000:]
        assert wait_until(lambda: stub.admin.collector()["store"] == "ok", timeout=5)
        # The pending device gets its password now that its hash can be kept.
        cred = requests.get(stub.url + "/device/credentials", params={"mac": pending}, timeout=5)
        assert cred.status_code == 200 and "password" in cred.json()
