"""`neoc image build`: the card, the network lists and the Imager list, every
JSON against its schema (ours, and Imager's own for its list), every shell
script through shellcheck, the cloud-init files through cloud-init and
netplan, and bad values refused before anything is written."""
import glob
import hashlib
import json
import lzma
import os
import pathlib
import shutil
import subprocess
import tomllib

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from harness import need
from neoc.cli import main
from noobs_image import card, fatimage, schemas, settings
from support.image_helpers import PASSPHRASE, SSID, fat_image, ssh_key, tool

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
REPO = "http://192.0.2.10:8080/neoc"
AGENT = "https://git.example.org/neocampus/devkit.git@v1.4"


def run_neoc(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("build")
    tool("mcopy")
    base = fat_image(tmp / "base.img")
    subprocess.run(["xz", "-k", "-0", str(base)], check=True)
    out = tmp / "out"
    key = ssh_key(tmp / "key.pub")
    r = run_neoc("image", "build", "--out", str(out), "--repo-url", REPO, "--agent-git", AGENT,
                 "--role", "display", "--wifi", SSID, "--ssh-key", str(key),
                 "--base-image", "bookworm=%s.xz" % base, "--base-image", "trixie=%s" % base,
                 env={"NEOC_WIFI_PASSWORD": PASSPHRASE, "SOURCE_DATE_EPOCH": "1764979200"})
    assert r.exit_code == 0, r.output
    return out, r.output, base


def test_every_json_written_validates_against_its_schema(built):
    out, _, _ = built
    found = sorted(p for p in out.rglob("*.json"))
    assert {p.name for p in found} == set(schemas.FOR_FILE)
    for p in found:
        schemas.check_file(str(p))


def test_the_schemas_refuse_what_the_installers_would_trip_on(built):
    out, _, _ = built
    osj = json.loads((out / "noobs/os/neOCampus/os.json").read_text())
    with pytest.raises(schemas.SchemaError, match="name"):
        schemas.check(dict(osj, name="Raspbian"), "os.schema.json")
    with pytest.raises(schemas.SchemaError, match="release_date"):
        schemas.check(dict(osj, release_date="6/12/2026"), "os.schema.json")
    parts = json.loads((out / "noobs/os/neOCampus/partitions.json").read_text())
    parts["partitions"][1]["filesystem_type"] = "btrfs"
    with pytest.raises(schemas.SchemaError, match="filesystem_type"):
        schemas.check(parts, "partitions.schema.json")
    with pytest.raises(ValueError, match="override"):
        card.check_name("Raspbian - sensors")
    assert card.name_core("neOCampus - display") == "neOCampus"


def test_the_imager_list_validates_against_imagers_own_schema(built):
    out, _, base = built
    doc = json.loads((out / "imager/os_list_imager.json").read_text())
    imager_schema = json.loads((FIXTURES / "rpi-imager-os-list-schema.json").read_text())
    jsonschema.Draft7Validator(imager_schema).validate(doc)
    # anyOf lets almost anything through: each entry must be Imager's "OS image" kind
    image_kind = imager_schema["properties"]["os_list"]["items"]["anyOf"][0]
    for entry in doc["os_list"]:
        jsonschema.Draft7Validator(image_kind).validate(entry)
    names = [e["name"] for e in doc["os_list"]]
    assert len(names) == 6 and doc["imager"]["default_os"] == "neOCampus display (Trixie)"
    assert {e["init_format"] for e in doc["os_list"] if "Bookworm" in e["name"]} == {"systemd"}
    assert {e["init_format"] for e in doc["os_list"] if "Trixie" in e["name"]} == {"cloudinit-rpi"}


def test_each_imager_image_is_what_its_entry_says(built, tmp_path):
    out, _, base = built
    doc = json.loads((out / "imager/os_list_imager.json").read_text())
    for entry in doc["os_list"]:
        path = out / "imager" / entry["url"].rsplit("/", 1)[1]
        assert entry["url"].startswith(REPO + "/imager/")
        data = path.read_bytes()
        assert len(data) == entry["image_download_size"]
        assert hashlib.sha256(data).hexdigest() == entry["image_download_sha256"]
        raw = lzma.decompress(data)
        assert len(raw) == entry["extract_size"] == base.stat().st_size
        assert hashlib.sha256(raw).hexdigest() == entry["extract_sha256"]
        img = tmp_path / "x.img"
        img.write_bytes(raw)
        role = entry["name"].split()[1]
        cmdline = fatimage.read(str(img), "cmdline.txt").decode()
        if entry["init_format"] == "systemd":
            assert "NEOC_ROLE='%s'" % role in fatimage.read(str(img), "firstrun.sh").decode()
            assert cmdline.rstrip().endswith("systemd.unit=kernel-command-line.target")
        else:
            assert "NEOC_ROLE='%s'" % role in fatimage.read(str(img), "user-data").decode()
            assert " ds=nocloud;i=neocampus-%s-" % role in cmdline


def test_card_and_lists_point_at_the_served_build(built):
    out, _, _ = built
    pinn = (out / "noobs/cmdline.txt").read_text()
    assert 'silentinstall select="neOCampus - display,waitnetwork"' in pinn
    assert "repo_list=%s/repo/repo_list.json" % REPO in pinn and "no_overrides" in pinn
    noobs = (out / "noobs/recovery.cmdline").read_text()
    assert noobs.startswith("runinstaller ") and " silentinstall " in noobs
    assert "repo=%s/repo/os_list_v3.json" % REPO in noobs
    repo_list = json.loads((out / "repo/repo_list.json").read_text())
    assert repo_list["repo_list"][0]["url"] == REPO + "/repo/os_list_v3.json"
    entry = json.loads((out / "repo/os_list_v3.json").read_text())["os_list"][0]
    for key in ("os_info", "partitions_info", "partition_setup", "marketing_info", "icon"):
        rel = entry[key][len(REPO) + 1:]
        assert (out / rel).is_file(), key
    assert entry["tarballs"] == [REPO + "/noobs/os/neOCampus/boot.tar.xz", REPO + "/noobs/os/neOCampus/root.tar.xz"]
    flavours = json.loads((out / "noobs/os/neOCampus/flavours.json").read_text())["flavours"]
    assert [f["name"] for f in flavours] == ["neOCampus - sensors", "neOCampus - display", "neOCampus - concentrator"]
    import tarfile
    with tarfile.open(out / "noobs/os/neOCampus/marketing.tar") as t:
        assert t.getnames() == ["slides_vga/A.png"]
    assert (out / "noobs/os/neOCampus/neOCampus.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_shell_script_is_shellcheck_clean(built):
    out, _, _ = built
    shellcheck = shutil.which("shellcheck") or need("shellcheck is not installed: sudo apt-get install shellcheck")
    scripts = sorted(glob.glob(str(out / "**/*.sh"), recursive=True))
    scripts.append(str(pathlib.Path(card.__file__).parent / "scripts" / "firstboot.sh"))
    assert len(scripts) == 5  # partition_setup.sh, 3 x firstrun.sh, the template
    r = subprocess.run([shellcheck, "-s", "sh", *scripts], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_user_data_passes_cloud_init_schema(built):
    out, _, _ = built
    for role in settings.ROLES:
        path = out / "imager/firstboot" / role / "user-data"
        text = path.read_text()
        assert text.startswith("#cloud-config\n")
        doc = yaml.safe_load(text)
        assert doc["rpi"] == {"interfaces": {"i2c": True, "spi": True}}
        assert doc["runcmd"][-1] == ["/usr/local/lib/neocampus/firstboot.sh", "all"]
        assert "NEOC_ROLE='%s'" % role in doc["write_files"][0]["content"]
        assert doc["write_files"][0]["permissions"] == "0600"
        cloud_init = shutil.which("cloud-init")
        if cloud_init is None:
            need("cloud-init is not installed (sudo apt-get install cloud-init): user-data checked by its YAML only")
        r = subprocess.run([cloud_init, "schema", "--config-file", str(path)], capture_output=True, text=True)
        assert r.returncode == 0 and "Valid cloud-config" in r.stdout, r.stdout + r.stderr


def test_network_config_is_netplan_v2_with_the_psk(built, tmp_path):
    out, _, _ = built
    text = (out / "imager/firstboot/sensors/network-config").read_text()
    doc = yaml.safe_load(text)
    psk = settings.wpa_psk(SSID, PASSPHRASE)
    assert doc["network"]["version"] == 2
    assert doc["network"]["wifis"]["wlan0"]["access-points"][SSID] == {"password": psk}
    netplan = shutil.which("netplan", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if netplan is None:
        need("netplan is not installed (sudo apt-get install netplan.io): network-config checked as YAML only")
    (tmp_path / "etc/netplan").mkdir(parents=True)
    conf = tmp_path / "etc/netplan/50-cloud-init.yaml"
    conf.write_text(text)
    conf.chmod(0o600)
    r = subprocess.run([netplan, "generate", "--root-dir", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "psk=%s" % psk in (tmp_path / "run/netplan/wpa-wlan0.conf").read_text()


def test_the_passphrase_is_nowhere_and_the_psk_files_are_private(built):
    out, output, _ = built
    assert PASSPHRASE not in output
    psk = settings.wpa_psk(SSID, PASSPHRASE)
    for p in out.rglob("*"):
        if not p.is_file():
            continue
        data = p.read_bytes()
        if p.suffix == ".xz":
            data = lzma.decompress(data)
        assert PASSPHRASE.encode() not in data, p
        if psk.encode() in data:
            assert p.stat().st_mode & 0o077 == 0, "%s holds the PSK and is readable by others" % p
    assert (out / "noobs/os/neOCampus/partition_setup.sh").stat().st_mode & 0o777 == 0o600


def test_wpa_psk_is_ieee_802_11i():
    # IEEE 802.11i-2004, annex H.4.3 test vector
    assert settings.wpa_psk("IEEE", "password") == "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"


@pytest.mark.parametrize("args, env, message", [
    (["--hostname-pattern", "pi_{mac4}"], {}, "--hostname-pattern 'pi_{mac4}'"),
    (["--hostname-pattern", "neocampus"], {}, "{mac4}"),
    (["--repo-url", "ftp://x/y"], {}, "--repo-url 'ftp://x/y'"),
    (["--server", "sensocampus"], {}, "--server 'sensocampus'"),
    (["--agent-git", "not a url"], {}, "--agent-git 'not a url'"),
    (["--agent-git", "https://h/r.git@bad..ref"], {}, "bad git ref"),
    (["--wifi", "x" * 33 + ":password1"], {}, "1 to 32 bytes"),
    (["--wifi", "lab:short"], {}, "8 to 63"),
    (["--wifi", "lab"], {}, "no Wi-Fi password for lab"),
    (["--timezone", "Europe/Toulouse"], {}, "--timezone 'Europe/Toulouse'"),
    (["--wifi-country", "fr"], {}, "--wifi-country 'fr'"),
    (["--user", "Root"], {}, "--user 'Root'"),
    (["--ssh-key", "PRIVATE"], {}, "private key"),
    (["--ssh-key", "GARBAGE"], {}, "does not decode to a ssh-ed25519 key"),
    (["--base-image", "jessie=/nonexistent.img"], {}, "release must be one of"),
    (["--base-image", "bookworm=/nonexistent.img"], {}, "no such file"),
    (["--serial", "ttyUSB0"], {}, "--serial 'ttyUSB0': want PORT[:BAUD]"),
    (["--serial", "/dev/ttyUSB0:7"], {}, "baudrate: must be a baud rate"),
    (["--agent-config", "/nonexistent.toml"], {}, "--agent-config '/nonexistent.toml': no such config file"),
    (["--agent-config", "ROLES.toml"], {}, "agent.roles is set by --role"),
    (["--agent-config", "PORT.toml"], {}, "mqtt.port: must be an integer in 1..65535"),
    (["--agent-config", "NOTOML.toml"], {}, "not valid TOML"),
])
def test_bad_values_are_named_and_nothing_is_written(tmp_path, args, env, message):
    key = ssh_key(tmp_path / "key.pub")
    (tmp_path / "PRIVATE").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nxxx\n")
    (tmp_path / "GARBAGE").write_text("ssh-ed25519 AAAA!!notbase64\n")
    (tmp_path / "ROLES.toml").write_text('[agent]\nroles = ["display"]\n')
    (tmp_path / "PORT.toml").write_text("[mqtt]\nport = 0\n")
    (tmp_path / "NOTOML.toml").write_text("[mqtt\n")
    args = [str(tmp_path / a) if a in ("PRIVATE", "GARBAGE", "ROLES.toml", "PORT.toml", "NOTOML.toml") else a
            for a in args]
    base = {"--repo-url": REPO, "--agent-git": AGENT, "--role": "sensors", "--ssh-key": str(key)}
    for i in range(0, len(args), 2):
        base.pop(args[i], None)
    argv = ["image", "build", "--out", str(tmp_path / "out")] + [x for kv in base.items() for x in kv] + args
    r = CliRunner().invoke(main, argv, env=env)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "out").exists()


def build_settings(folder, name):
    """The NEOC_* settings of a built first-boot script, as sh reads them."""
    script = folder / "imager/firstboot" / name / "firstrun.sh"
    block = script.read_text().split("# @NEOC_SETTINGS@\n")[1].split("# @NEOC_SETTINGS_END@")[0]
    r = subprocess.run(["sh", "-c", block + 'printf %s "$NEOC_AGENT_CONFIG"'], capture_output=True, text=True,
                       check=True)
    return r.stdout


def test_a_concentrator_build_carries_its_lines_or_says_it_has_none(tmp_path):
    from rpi_agent import config
    key = str(ssh_key(tmp_path / "key.pub"))
    argv = ["image", "build", "--repo-url", REPO, "--agent-git", AGENT, "--role", "concentrator", "--ssh-key", key]
    r = run_neoc(*argv, "--out", str(tmp_path / "none"))
    assert r.exit_code == 0 and "note: the agent of these Pis will say: " + config.NO_LINES in r.output, r.output
    assert build_settings(tmp_path / "none", "concentrator") == ""
    fragment = tmp_path / "meter.toml"
    fragment.write_text("[[concentrator.modbus]]\nport = \"/dev/ttyUSB1\"\n[[concentrator.modbus.registers]]\n"
                        "address = 3\nmodule = \"temperature\"\nsubID = \"t3\"\n")
    r = run_neoc(*argv, "--out", str(tmp_path / "lines"), "--serial", "/dev/ttyUSB0:115200", "--agent-config",
                 str(fragment))
    assert r.exit_code == 0 and "note:" not in r.output, r.output
    for role in settings.ROLES:  # one build, every flavour: the same lines
        doc = tomllib.loads(build_settings(tmp_path / "lines", role))
        assert doc["concentrator"]["serial"] == [{"port": "/dev/ttyUSB0", "baudrate": 115200}]
        assert doc["concentrator"]["modbus"][0]["registers"][0]["subID"] == "t3"
    user_data = yaml.safe_load((tmp_path / "lines/imager/firstboot/concentrator/user-data").read_text())
    conf = next(f["content"] for f in user_data["write_files"] if f["path"] == "/etc/neocampus/firstboot.conf")
    assert "baudrate = 115200" in conf


@pytest.mark.parametrize("content, message", [
    (b"\xfd7zXZ\x00 truncated", "cannot read the base image"),
    (b"\0" * 4096, "not a disk image"),
])
def test_a_broken_base_image_is_named_and_nothing_is_written(tmp_path, content, message):
    key = ssh_key(tmp_path / "key.pub")
    base = tmp_path / ("base.img.xz" if content.startswith(b"\xfd7z") else "base.img")
    base.write_bytes(content)
    r = CliRunner().invoke(main, ["image", "build", "--out", str(tmp_path / "out"), "--repo-url", REPO,
                                  "--agent-git", AGENT, "--role", "sensors", "--ssh-key", str(key),
                                  "--base-image", "bookworm=%s" % base])
    assert r.exit_code == 1 and message in r.output and str(base) in r.output, r.output
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".neoc-image-")] == []


def test_every_option_is_explained_in_help():
    from noobs_image.cli import image
    for name, command in image.commands.items():
        assert command.help, name
        for param in command.params:
            if isinstance(param, __import__("click").Option):
                assert param.help and len(param.help) > 20, "%s %s" % (name, param.opts)
        r = CliRunner().invoke(main, ["image", name, "--help"])
        assert r.exit_code == 0 and "--" in r.output
