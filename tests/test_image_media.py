"""`neoc image customise` on FAT images made here (mkfs.vfat, mtools),
`neoc image tarballs` on a small tree, and `neoc image fetch-firmware`
against a local HTTP server serving small fake files (never the Internet)."""
import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
import zipfile

import pytest
from click.testing import CliRunner

from neoc.cli import main
from noobs_image import fatimage, firstboot, settings
from support.image_helpers import CMDLINE, fat_image, ssh_key, tool

AGENT = "https://git.example.org/devkit.git@v3"


def neoc(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)


@pytest.mark.parametrize("with_mbr", [True, False], ids=["disk-image", "bare-fat"])
def test_customise_writes_what_imager_would_and_twice_is_once(tmp_path, with_mbr):
    tool("mcopy")
    img = fat_image(tmp_path / "raspios.img", with_mbr=with_mbr)
    key = ssh_key(tmp_path / "k.pub")
    args = ["image", "customise", str(img), "--role", "display", "--agent-git", AGENT, "--ssh-key", str(key)]
    r = neoc(*args)
    assert r.exit_code == 0 and "wrote firstrun.sh, cmdline.txt" in r.output, r.output
    s = settings.build(role="display", agent_git=AGENT, ssh_key=str(key))
    assert fatimage.read(str(img), "firstrun.sh").decode() == firstboot.firstrun_sh(s)
    assert fatimage.read(str(img), "cmdline.txt").decode() == CMDLINE.rstrip() + " " + firstboot.SYSTEMD_CMDLINE + "\n"
    before = hashlib.sha256(img.read_bytes()).hexdigest()
    r = neoc(*args)
    assert r.exit_code == 0 and "nothing changed" in r.output
    assert hashlib.sha256(img.read_bytes()).hexdigest() == before

    r = neoc(*(args + ["--init-format", "cloudinit-rpi"]))
    assert r.exit_code == 0, r.output
    names = fatimage.names(str(img))
    assert {"user-data", "meta-data", "network-config"} <= set(names)
    cmdline = fatimage.read(str(img), "cmdline.txt").decode()
    assert cmdline.count("\n") == 1 and " ds=nocloud;i=neocampus-display-" in cmdline


def test_customise_refuses_what_is_not_a_pi_image(tmp_path):
    key = ssh_key(tmp_path / "k.pub")
    junk = tmp_path / "junk.img"
    junk.write_bytes(b"\0" * 4096)
    r = CliRunner().invoke(main, ["image", "customise", str(junk), "--role", "sensors", "--agent-git", AGENT,
                                  "--ssh-key", str(key)])
    assert r.exit_code == 1 and "not a disk image" in r.output and "Traceback" not in r.output
    tool("mcopy")
    nocmd = fat_image(tmp_path / "other.img", files={"readme.txt": "x"})
    r = CliRunner().invoke(main, ["image", "customise", str(nocmd), "--role", "sensors", "--agent-git", AGENT,
                                  "--ssh-key", str(key)])
    assert r.exit_code == 1 and "no cmdline.txt" in r.output


def test_tarballs_fill_the_metadata(tmp_path):
    key = ssh_key(tmp_path / "k.pub")
    out = tmp_path / "build"
    r = neoc("image", "build", "--out", str(out), "--repo-url", "http://127.0.0.1:8080", "--agent-git", AGENT,
             "--role", "sensors", "--ssh-key", str(key))
    assert r.exit_code == 0, r.output
    rootfs = tmp_path / "rootfs"
    (rootfs / "boot").mkdir(parents=True)
    (rootfs / "boot/cmdline.txt").write_text(CMDLINE)
    (rootfs / "root/etc").mkdir(parents=True)
    (rootfs / "root/etc/fstab").write_text("proc /proc proc defaults 0 0\n")
    (rootfs / "root/usr/bin").mkdir(parents=True)
    (rootfs / "root/usr/bin/big").write_bytes(os.urandom(3 * 1024 * 1024))  # 3 MB that do not compress
    os.symlink("usr/bin", rootfs / "root/bin")
    r = neoc("image", "tarballs", "--rootfs", str(rootfs), "--out", str(out))
    assert r.exit_code == 0, r.output
    folder = out / "noobs/os/neOCampus"
    parts = {p["label"]: p for p in json.loads((folder / "partitions.json").read_text())["partitions"]}
    for label in ("boot", "root"):
        data = (folder / (label + ".tar.xz")).read_bytes()
        assert parts[label]["sha256sum"] == hashlib.sha256(data).hexdigest()
    assert parts["boot"]["uncompressed_tarball_size"] == 1 and parts["boot"]["partition_size_nominal"] == 256
    assert parts["root"]["uncompressed_tarball_size"] == 4  # 3 MB + tar headers, rounded up
    with tarfile.open(folder / "root.tar.xz") as t:
        assert t.getmember("./bin").issym() and t.getmember("./etc/fstab").isfile()
    entry = json.loads((out / "repo/os_list_v3.json").read_text())["os_list"][0]
    assert entry["nominal_size"] == parts["boot"]["partition_size_nominal"] + parts["root"]["partition_size_nominal"]
    r = CliRunner().invoke(main, ["image", "tarballs", "--rootfs", str(rootfs / "boot"), "--out", str(out)])
    assert r.exit_code == 1 and "no boot/ in it" in r.output


def fake_zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


GOOD = {"bootcode.bin": b"\x01" * 64, "recovery.elf": b"ELF", "recovery.img": b"IMG", "recovery7l.img": b"IMG7",
        "recovery.rfs": b"RFS", "RECOVERY_FILES_DO_NOT_EDIT": b"", "recovery.cmdline": b"runinstaller\n",
        "cmdline.txt": b"runinstaller pinn\n", "overlays/x.dtbo": b"dt", "os/README": b"x"}


@pytest.fixture
def served(tmp_path):
    files = {"/pinn-lite.zip": fake_zip(GOOD), "/short.zip": fake_zip(dict(GOOD, **{"recovery.rfs": b"R"}))[:-30],
             "/evil.zip": fake_zip(dict(GOOD, **{"../../escape": b"x"})), "/html.zip": b"<html>not found</html>",
             "/incomplete.zip": fake_zip({"bootcode.bin": b"x"})}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            data = files.get(self.path)
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % server.server_address[1], files
    server.shutdown()
    server.server_close()


def test_fetch_firmware_downloads_checks_and_keeps_the_cards_own_cmdlines(tmp_path, served):
    url, files = served
    out = tmp_path / "build"
    (out / "noobs").mkdir(parents=True)
    (out / "noobs/cmdline.txt").write_text("ours\n")
    (out / "noobs/recovery.cmdline").write_text("ours too\n")
    want = hashlib.sha256(files["/pinn-lite.zip"]).hexdigest()
    r = neoc("image", "fetch-firmware", "--out", str(out), "--url", url + "/pinn-lite.zip", "--sha256", want)
    assert r.exit_code == 0, r.output
    assert (out / "noobs/recovery.elf").read_bytes() == b"ELF" and (out / "noobs/overlays/x.dtbo").exists()
    assert (out / "noobs/cmdline.txt").read_text() == "ours\n"
    assert (out / "noobs/recovery.cmdline").read_text() == "ours too\n"
    assert not (out / "noobs/os").exists()
    assert want in (out / "noobs/FIRMWARE.txt").read_text() and want in r.output


@pytest.mark.parametrize("path, sha, message", [
    ("/pinn-lite.zip", "0" * 64, "sha256 is"),
    ("/short.zip", None, "not a zip file"),
    ("/evil.zip", None, "outside the card"),
    ("/html.zip", None, "did the server send an error page"),
    ("/incomplete.zip", None, "lacks recovery.elf"),
    ("/missing.zip", None, "HTTP 404"),
])
def test_fetch_firmware_refuses_what_it_cannot_trust(tmp_path, served, path, sha, message):
    url, _ = served
    args = ["image", "fetch-firmware", "--out", str(tmp_path / "b"), "--url", url + path]
    r = CliRunner().invoke(main, args + (["--sha256", sha] if sha else []))
    assert r.exit_code == 1 and message in r.output, r.output
    assert not (tmp_path / "b/noobs/recovery.elf").exists()


def test_the_binaries_are_ignored_by_git():
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    names = ["bootcode.bin", "recovery.elf", "recovery7l.img", "recovery.rfs", "x/root.tar.xz", "raspios.img.xz",
             "neoc-image/noobs/cmdline.txt"]
    r = subprocess.run(["git", "-C", root, "check-ignore", "--no-index", *names], capture_output=True, text=True)
    assert r.stdout.split() == names
