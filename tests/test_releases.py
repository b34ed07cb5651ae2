"""Firmware releases on the stub: `neoc release` builds and publishes, the
admin API stores, checks and serves them; bad input gets a clear 4xx and
never reaches the boards' default.json."""
import hashlib
import json
import subprocess
import sys

import pytest
import requests

from provisioning.admin_client import AdminError
from toolchain.release import ReleaseError, from_dir, manifest

NEOC = [sys.executable, "-m", "neoc"]


def _put(stub, path, data, token=True):
    headers = {"Authorization": "Bearer %s" % stub.token} if token else {}
    return requests.put(stub.url + "/api/releases/esp32/261210/files/" + path, data=data, headers=headers,
                        timeout=10)


def test_a_published_release_is_served_to_the_boards(stub):
    files = {"/firmware.json": json.dumps({"revision": 261210, "deploy": "mpy"}).encode(),
             "/neosensor/app.mpy": b"M\x06code", "/main.py": b"import x\n"}
    doc = manifest(files)
    for path, data in files.items():
        assert stub.admin.put_release_file("esp32", 261210, path, data)["sha256"] == hashlib.sha256(data).hexdigest()
    published = stub.admin.publish_release("esp32", doc)
    assert published["image"].endswith("/images/esp32/neOSensor/261210/firmware.json")
    served = requests.get(stub.url + "/images/esp32/neOSensor/default.json", timeout=10).json()
    assert served["revision"] == 261210 and served["files"] == doc["files"] and "neosensor" in served["owns"]
    got = requests.get(stub.url + "/images/esp32/neOSensor/261210/neosensor/app.mpy", timeout=10)
    assert got.status_code == 200 and got.content == b"M\x06code"
    assert stub.admin.releases()["esp32"]["revision"] == 261210


def test_a_manifest_that_does_not_match_its_files_is_refused(stub):
    assert stub.admin.put_release_file("esp32", 261211, "/a.mpy", b"one")
    good = [["/a.mpy", 3, hashlib.sha256(b"one").hexdigest()]]
    before = requests.get(stub.url + "/images/esp32/neOSensor/default.json", timeout=10).content
    for files, said in (([["/a.mpy", 3, "0" * 64]], "not the one the manifest describes"),
                        ([["/b.mpy", 3, "0" * 64]], "not uploaded"),
                        ([["a.mpy", 3, "0" * 64]], "file path"),
                        ([], "files")):
        with pytest.raises(AdminError) as e:
            stub.admin.publish_release("esp32", {"revision": 261211, "files": files})
        assert e.value.status == 400 and said in e.value.message
    with pytest.raises(AdminError) as e:
        stub.admin.publish_release("esp32", {"revision": 261211, "files": good, "owns": ["config.json"]})
    assert e.value.status == 400
    with pytest.raises(AdminError) as e:
        stub.admin.publish_release("esp9000", {"revision": 261211, "files": good})
    assert e.value.status == 400 and "board" in e.value.message
    # Nothing above reached the boards.
    assert requests.get(stub.url + "/images/esp32/neOSensor/default.json", timeout=10).content == before


def test_uploads_need_the_token_and_stay_inside_the_tree(stub):
    assert _put(stub, "x.mpy", b"x", token=False).status_code == 401
    for bad in ("../../admin-token", "a/../../x", ".hidden", "a//b"):
        r = _put(stub, bad, b"x")
        assert r.status_code in (400, 404), (bad, r.status_code)
    assert requests.get(stub.url + "/images/../admin-token", timeout=10).status_code == 404
    assert requests.get(stub.url + "/images/esp32/neOSensor/%2e%2e/%2e%2e/admin-token",
                        timeout=10).status_code in (403, 404)


def test_release_build_then_publish_a_folder(stub, tmp_path):
    out = tmp_path / "rel"
    run = lambda *a: subprocess.run(NEOC + list(a), stdin=subprocess.DEVNULL, capture_output=True,  # noqa: E731
                                    text=True, timeout=300)
    built = run("release", "build", str(out), "--board", "esp8266", "--deploy", "mpy", "--revision", "261220")
    assert built.returncode == 0, built.stderr
    assert json.loads((out / "firmware.json").read_text()) == {"revision": 261220, "deploy": "mpy",
                                                                "arch": "xtensa"}
    files = from_dir(out)
    assert "/default.json" not in files and "/neosensor/ota.mpy" in files
    wrong = run("release", "publish", str(out), "--board", "esp8266", "--revision", "261221",
                "--server", stub.url, "--token", stub.token)
    assert wrong.returncode != 0 and "is revision 261220" in wrong.stderr
    done = run("release", "publish", str(out), "--board", "esp8266", "--server", stub.url, "--token", stub.token)
    assert done.returncode == 0, done.stderr
    assert "release 261220 published for esp8266" in done.stdout
    listed = run("release", "list", "--json", "--server", stub.url, "--token", stub.token)
    assert json.loads(listed.stdout)["esp8266"]["revision"] == 261220
    neither = run("release", "publish", "--board", "esp8266", "--server", stub.url, "--token", stub.token)
    assert neither.returncode == 2 and "DIR" in neither.stderr


def test_a_folder_that_is_no_firmware_tree_is_refused(tmp_path):
    (tmp_path / "main.py").write_text("x")
    with pytest.raises(ReleaseError, match="firmware.json"):
        from_dir(tmp_path)
