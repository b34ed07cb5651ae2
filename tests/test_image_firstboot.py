"""The first-boot script in a throw-away root.

Not a chroot into a debootstrapped Debian (it works here, 33 s and 206 MB,
but not within these tests' time budget): the real script runs under
busybox `sh` with NEOC_ROOT pointing at a directory that stands for the
Pi's root, and PATH holds only busybox applets and **recording fakes** for
the system commands (systemctl, apt-get, dpkg-query, usermod, chown, python3
-m venv, ...). `git` is the real one, cloning a local repository; the venv's
`neoc` is the real `neoc agent install`, given `--root`; `systemctl enable`
and `disable` are the real `systemctl --root`. What is asserted is what a Pi
would be left with: the files, the enabled units, the calls made."""
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from harness import need
from noobs_image import firstboot, settings
from rpi_agent import config
from support.image_helpers import CMDLINE, CONFIG, PASSPHRASE, SSID, ssh_key

APPLETS = ("sh", "awk", "sed", "grep", "cat", "cmp", "mkdir", "mv", "rm", "ln", "chmod", "touch", "head", "cut",
           "tr", "date", "dirname", "readlink", "echo", "printf")
MAC = "dc:a6:32:01:1a:2b"
NEOC = os.path.join(os.path.dirname(sys.executable), "neoc")

FAKE = '''#!{python}
import json, os, subprocess, sys
ROOT = {root!r}
args = sys.argv[1:]
with open({calls!r}, "a") as f:
    f.write(json.dumps([os.path.basename(sys.argv[0])] + args) + "\\n")
name = os.path.basename(sys.argv[0])
state = os.path.join(ROOT, "var/lib/fake-dpkg")
if name == "systemctl":
    if "--root" in args:
        os.execv({systemctl!r}, [{systemctl!r}] + args)
    if args and args[0] in ("enable", "disable"):
        os.execv({systemctl!r}, [{systemctl!r}, "--root", ROOT] + args)
elif name == "apt-get":
    if os.path.exists(os.path.join(ROOT, "apt-broken")):
        sys.exit(100)
    if args and args[0] == "install" or "install" in args:
        pkgs = [a for a in args[args.index("install") + 1:] if not a.startswith("-")]
        os.makedirs(os.path.dirname(state), exist_ok=True)
        with open(state, "a") as f:
            f.write("".join(p + "\\n" for p in pkgs))
elif name == "dpkg-query":
    have = open(state).read().split() if os.path.exists(state) else []
    if args[-1] not in have:
        sys.exit(1)
    print("install ok installed", end="")
elif name == "usermod" and args[:2] == ["-a", "-G"]:
    group, user = args[2], args[3]
    path = os.path.join(ROOT, "etc/group")
    lines = []
    for line in open(path).read().splitlines():
        f = line.split(":")
        if f[0] == group:
            f[3] = ",".join([m for m in f[3].split(",") if m] + [user])
        lines.append(":".join(f))
    open(path, "w").write("\\n".join(lines) + "\\n")
elif name == "git":
    os.execv({git!r}, [{git!r}] + args)
elif name == "python3" and args[:2] == ["-m", "venv"]:
    venv = args[2]
    os.makedirs(venv + "/bin")
    for tool, body in (("python", "import sys; sys.exit(0)"),
                       ("neoc", "import os, sys; os.execv({neoc!r}, [{neoc!r}] + sys.argv[1:] + ['--root', ROOT])")):
        with open(venv + "/bin/" + tool, "w") as f:
            f.write("#!{python}\\nROOT = %r\\n" % ROOT + {fake_head!r} + body + "\\n")
        os.chmod(venv + "/bin/" + tool, 0o755)
'''
FAKE_HEAD = ("import json, os, sys\nwith open(%r, 'a') as f:\n"
             "    f.write(json.dumps([os.path.basename(sys.argv[0])] + sys.argv[1:]) + '\\n')\n")
FAKED = ("systemctl", "apt-get", "dpkg-query", "usermod", "useradd", "groupmod", "chown", "hostname", "git", "python3")


@pytest.fixture
def pi(tmp_path):
    """A throw-away Pi root, the fakes, and a local agent repository with tag v2."""
    busybox = shutil.which("busybox") or need("busybox is not installed: sudo apt-get install busybox")
    systemctl = shutil.which("systemctl") or need("systemctl is not installed (Debian systemd)")
    git = shutil.which("git") or need("git is not installed")
    root = tmp_path / "root"
    boot = root / "boot/firmware"
    boot.mkdir(parents=True)
    (boot / "cmdline.txt").write_text(CMDLINE.rstrip() + " " + firstboot.SYSTEMD_CMDLINE + "\n")
    (boot / "config.txt").write_text(CONFIG)
    files = {
        "etc/passwd": "root:x:0:0:root:/root:/bin/bash\npi:x:1000:1000:,,,:/home/pi:/bin/bash\n",
        "etc/group": "root:x:0:\nsudo:x:27:\ndialout:x:20:\ngpio:x:997:\ni2c:x:998:\nspi:x:999:\npi:x:1000:\n",
        "etc/hostname": "raspberrypi\n",
        "etc/hosts": "127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n",
        "etc/modules": "",
        "usr/share/zoneinfo/Europe/Paris": "TZif2",
        "sys/class/net/eth0/address": MAC + "\n",
        "lib/systemd/system/ssh.service": "[Unit]\nDescription=ssh\n[Service]\nExecStart=/usr/sbin/sshd -D\n"
                                          "[Install]\nWantedBy=multi-user.target\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for d in ("home/pi", "etc/NetworkManager/system-connections", "etc/systemd/system"):
        (root / d).mkdir(parents=True, exist_ok=True)

    bindir = tmp_path / "bin"
    bindir.mkdir()
    for a in APPLETS:
        (bindir / a).symlink_to(busybox)
    calls = tmp_path / "calls.log"
    for name in FAKED:
        f = bindir / name
        f.write_text(FAKE.format(python=sys.executable, root=str(root), calls=str(calls), systemctl=systemctl,
                                 git=git, neoc=NEOC, fake_head=FAKE_HEAD % str(calls)))
        f.chmod(0o755)

    repo = tmp_path / "agent.git"
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@x")
    subprocess.run([git, "init", "-q", "-b", "main", str(repo)], check=True, env=env)
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    subprocess.run([git, "-C", str(repo), "add", "."], check=True, env=env)
    subprocess.run([git, "-C", str(repo), "commit", "-qm", "v2"], check=True, env=env)
    subprocess.run([git, "-C", str(repo), "tag", "v2"], check=True, env=env)
    (repo / "later.txt").write_text("after v2\n")
    subprocess.run([git, "-C", str(repo), "add", "."], check=True, env=env)
    subprocess.run([git, "-C", str(repo), "commit", "-qm", "later"], check=True, env=env)
    tag = subprocess.run([git, "-C", str(repo), "rev-parse", "v2^{commit}"], capture_output=True, text=True,
                         check=True).stdout.strip()

    s = settings.build(role="sensors", agent_git="file://%s@v2" % repo, server="http://192.0.2.7:8000",
                       ssh_key=str(ssh_key(tmp_path / "k.pub")), wifi=(SSID, PASSPHRASE))
    (boot / "firstrun.sh").write_text(firstboot.firstrun_sh(s))

    def run(script, *args):
        r = subprocess.run([busybox, "sh", str(script), *args], env={"PATH": str(bindir), "NEOC_ROOT": str(root)},
                           capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        return r

    def take_calls():
        text = calls.read_text() if calls.exists() else ""
        calls.write_text("")
        return [json.loads(l) for l in text.splitlines()]
    return {"root": root, "boot": boot, "run": run, "calls": take_calls, "settings": s, "tag": tag}


def snapshot(root, skip=("boot/firmware/neocampus-firstboot.log",)):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in sorted(filenames + dirnames):
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            if rel in skip or "/.git/" in "/" + rel + "/" and rel.endswith(("index", "FETCH_HEAD")):
                continue
            st = os.lstat(p)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isfile(p):
                out[rel] = (st.st_mode, hashlib.sha256(open(p, "rb").read()).hexdigest())
            else:
                out[rel] = (st.st_mode,)
    return out


SELF = "usr/local/lib/neocampus/firstboot.sh"


def test_first_boot_leaves_the_agent_installed_and_a_second_run_changes_nothing(pi):
    root, boot = pi["root"], pi["boot"]
    r = pi["run"](boot / "firstrun.sh")
    assert r.returncode == 0, r.stdout + r.stderr
    r = pi["run"](root / SELF, "agent")
    assert r.returncode == 0, r.stdout + r.stderr
    calls = pi["calls"]()

    # system steps
    assert (root / "etc/hostname").read_text() == "neoc-1a2b\n"
    assert "127.0.1.1\tneoc-1a2b\n" in (root / "etc/hosts").read_text()
    keys = root / "home/pi/.ssh/authorized_keys"
    assert keys.read_text() == pi["settings"].ssh_keys[0] + "\n" and keys.stat().st_mode & 0o777 == 0o600
    assert (root / "etc/systemd/system/multi-user.target.wants/ssh.service").is_symlink()
    assert (root / "etc/ssh/sshd_config.d/10-neocampus.conf").read_text() == "PasswordAuthentication no\n"
    nm = root / "etc/NetworkManager/system-connections/neocampus-wifi.nmconnection"
    assert "psk=%s\n" % settings.wpa_psk(SSID, PASSPHRASE) in nm.read_text() and nm.stat().st_mode & 0o777 == 0o600
    assert os.readlink(root / "etc/localtime") == "/usr/share/zoneinfo/Europe/Paris"
    config = (boot / "config.txt").read_text()
    assert "\ndtparam=i2c_arm=on\n" in config and "\ndtparam=spi=on\n" in config and "#dtparam" not in config
    assert (root / "etc/modules").read_text() == "i2c-dev\n"
    assert "i2c:x:998:pi" in (root / "etc/group").read_text()
    cmdline = (boot / "cmdline.txt").read_text()
    assert "systemd.run" not in cmdline and "cfg80211.ieee80211_regdom=FR" in cmdline and cmdline.count("\n") == 1
    assert not (boot / "firstrun.sh").exists(), "firstrun.sh holds the PSK: it must go"
    conf = root / "etc/neocampus/firstboot.conf"
    assert conf.stat().st_mode & 0o777 == 0o600 and "NEOC_ROLE='sensors'" in conf.read_text()
    installed = root / SELF
    assert settings.wpa_psk(SSID, PASSPHRASE) not in installed.read_text() and installed.stat().st_mode & 0o777 == 0o755

    # agent steps: packages, clone at the tag, venv, the agent's own installer
    assert ["apt-get", "install", "-y", "-q", "--no-install-recommends", *firstboot.PACKAGES] in calls
    head = subprocess.run(["git", "-C", str(root / "opt/neocampus"), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert head == pi["tag"]
    assert ["python", "-m", "pip", "install", "--quiet", str(root / "opt/neocampus")] in calls
    agent_toml = tomllib.loads((root / "etc/neocampus/agent.toml").read_text())
    assert agent_toml["agent"] == {"roles": ["sensors"], "server": "http://192.0.2.7:8000"}
    assert not (root / "etc/neocampus/agent.image.toml").exists()  # no --agent-config, no --serial
    assert (root / "etc/systemd/system/multi-user.target.wants/neocampus-agent.service").is_symlink()
    assert ["systemctl", "start", "--no-block", "neocampus-agent.service"] in calls
    assert (root / "var/lib/neocampus/firstboot.done").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/neocampus-firstboot.service").exists()

    unit = (root / "etc/systemd/system/neocampus-firstboot.service").read_text()
    assert "ExecStart=/%s agent\n" % SELF in unit and "After=network-online.target" in unit
    analyze = shutil.which("systemd-analyze")
    if analyze:  # the unit as systemd reads it, its ExecStart pointed into the throw-away root
        copy = root.parent / "neocampus-firstboot.service"
        copy.write_text(unit.replace("ExecStart=/", "ExecStart=%s/" % root))
        v = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
        assert v.returncode == 0, v.stderr

    log = (boot / "neocampus-firstboot.log").read_text()
    assert "first boot done" in log and "FAILED" not in log
    psk = settings.wpa_psk(SSID, PASSPHRASE)
    assert psk not in log and psk not in r.stdout + r.stderr and PASSPHRASE not in log

    # again, both phases: nothing changes, nothing is installed or enabled again
    before = snapshot(root)
    assert pi["run"](root / SELF, "system").returncode == 0
    assert pi["run"](root / SELF, "agent").returncode == 0
    assert snapshot(root) == before
    again = pi["calls"]()
    mutating = [c for c in again if c[0] in ("apt-get", "useradd", "usermod", "groupmod", "python3", "pip")
                or c[:2] in (["systemctl", "enable"], ["git", "clone"], ["git", "checkout"])
                or (c[0] == "python" and "pip" in c)]
    assert mutating == []


def test_a_failing_agent_step_leaves_ssh_on_and_says_so(pi):
    root, boot = pi["root"], pi["boot"]
    (root / "apt-broken").write_text("")
    r = pi["run"](boot / "firstrun.sh")
    assert r.returncode == 0, "the systemd.run script must exit 0 or the Pi stops in kernel-command-line.target"
    r = pi["run"](root / SELF, "agent")
    assert r.returncode != 0  # the service tries again
    log = (boot / "neocampus-firstboot.log").read_text()
    assert "FAILED: agent set-up (SSH is on" in log
    assert (root / "home/pi/.ssh/authorized_keys").exists()
    assert (root / "etc/systemd/system/multi-user.target.wants/ssh.service").is_symlink()
    assert (root / "etc/systemd/system/multi-user.target.wants/neocampus-firstboot.service").is_symlink()
    assert not (root / "var/lib/neocampus/firstboot.done").exists()


def test_a_broken_system_step_does_not_stop_the_others(pi):
    root, boot = pi["root"], pi["boot"]
    os.unlink(root / "usr/share/zoneinfo/Europe/Paris")
    r = pi["run"](boot / "firstrun.sh")
    assert r.returncode == 0
    log = (boot / "neocampus-firstboot.log").read_text()
    assert "FAILED: time zone" in log and "ok: i2c and spi" in log and "ok: ssh key" in log
    assert "systemd.run" not in (boot / "cmdline.txt").read_text()


def test_the_flavour_picked_in_pinn_names_the_role(pi):
    root, boot = pi["root"], pi["boot"]
    (boot / "os_config.json").write_text(json.dumps({"flavour": "neOCampus - display", "partitions": []}, indent=2))
    assert pi["run"](boot / "firstrun.sh").returncode == 0
    assert "NEOC_ROLE='display'" in (root / "etc/neocampus/firstboot.conf").read_text()


def test_a_concentrator_gets_the_builds_lines_through_its_flavour(pi, tmp_path):
    """--serial and --agent-config reach the agent.toml of a Pi whose PINN
    flavour is the concentrator; the fragment crosses firstboot.conf (sh
    quoting: a quote, UTF-8, several lines) unchanged; a second run changes
    nothing."""
    root, boot = pi["root"], pi["boot"]
    fragment = tmp_path / "meter.toml"
    fragment.write_text('[display]\ntitle = "Salle d\'étude"\n\n[[concentrator.modbus]]\nport = "/dev/ttyUSB1"\n'
                        '[[concentrator.modbus.registers]]\naddress = 3\nmodule = "temperature"\nsubID = "t3"\n')
    s = dataclasses.replace(pi["settings"], agent_config=settings.check_agent_config(
        str(fragment), ["/dev/ttyUSB0:115200"], pi["settings"].server))
    (boot / "firstrun.sh").write_text(firstboot.firstrun_sh(s))
    (boot / "os_config.json").write_text(json.dumps({"flavour": "neOCampus - concentrator", "partitions": []}))
    assert pi["run"](boot / "firstrun.sh").returncode == 0
    r = pi["run"](root / SELF, "agent")
    assert r.returncode == 0, r.stdout + r.stderr
    cfg = config.parse(tomllib.loads((root / "etc/neocampus/agent.toml").read_text()))
    assert cfg["agent"]["roles"] == ["concentrator"] and cfg["display"]["title"] == "Salle d'étude"
    assert [(c["port"], c["baudrate"]) for c in cfg["concentrator"]["serial"]] == [("/dev/ttyUSB0", 115200)]
    assert cfg["concentrator"]["modbus"][0]["registers"][0]["subID"] == "t3" and config.notes(cfg) == []
    assert (root / "etc/neocampus/agent.image.toml").read_text() == s.agent_config
    assert "first boot done" in (boot / "neocampus-firstboot.log").read_text()
    before = snapshot(root)
    assert pi["run"](root / SELF, "agent").returncode == 0
    assert snapshot(root) == before


DEBIAN_ROOT = os.environ.get("NEOC_IMAGE_DEBIAN_ROOT")


@pytest.mark.slow
@pytest.mark.skipif(not DEBIAN_ROOT, reason="opt-in: NEOC_IMAGE_DEBIAN_ROOT=DIR, a debootstrapped Debian with "
                    "systemd, openssh-server, sudo and tzdata, and a user of uid 1000 (noobs_image/README.md)")
def test_the_system_phase_on_a_real_debian_root(tmp_path):
    """The system phase with Debian's own useradd, usermod, chown and systemctl, in a chroot over an overlay
    of DIR (DIR itself is not changed), in private mount and hostname namespaces (its `hostname` call must
    not rename the machine running the test). Root only."""
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot, mounts)")
    upper, work, merged = tmp_path / "upper", tmp_path / "work", tmp_path / "merged"
    for d in (upper / "boot/firmware", work, merged):
        d.mkdir(parents=True)
    (upper / "boot/firmware/cmdline.txt").write_text(CMDLINE.rstrip() + " " + firstboot.SYSTEMD_CMDLINE + "\n")
    (upper / "boot/firmware/config.txt").write_text(CONFIG)
    user = subprocess.run(["awk", "-F:", "$3 == 1000 { print $1 }", os.path.join(DEBIAN_ROOT, "etc/passwd")],
                          capture_output=True, text=True).stdout.strip()
    assert user, "NEOC_IMAGE_DEBIAN_ROOT needs a user of uid 1000"
    s = settings.build(role="sensors", agent_git="https://git.example.org/devkit.git", user=user,
                       ssh_key=str(ssh_key(tmp_path / "k.pub")), wifi=(SSID, PASSPHRASE))
    (upper / "boot/firmware/firstrun.sh").write_text(firstboot.firstrun_sh(s))
    inside = ('set -e; mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s; '
              'mount -t proc proc %s/proc; mount -t sysfs sys %s/sys; exec chroot %s sh "$@"'
              % (DEBIAN_ROOT, upper, work, merged, merged, merged, merged))

    def run(*args):
        return subprocess.run(["unshare", "-m", "-u", "sh", "-c", inside, "sh", *args], capture_output=True,
                               text=True, timeout=120, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    r = run("/boot/firmware/firstrun.sh")
    assert r.returncode == 0, r.stdout + r.stderr
    log = (upper / "boot/firmware/neocampus-firstboot.log").read_text()
    assert "FAILED" not in log, log
    assert (upper / ("home/%s/.ssh/authorized_keys" % user)).read_text() == s.ssh_keys[0] + "\n"
    assert os.path.islink(upper / "etc/systemd/system/multi-user.target.wants/ssh.service")
    assert os.path.islink(upper / "etc/systemd/system/multi-user.target.wants/neocampus-firstboot.service")
    assert (upper / "etc/wpa_supplicant/wpa_supplicant.conf").stat().st_mode & 0o777 == 0o600
    assert not (upper / "boot/firmware/firstrun.sh").exists()
    before = snapshot(upper, skip=("boot/firmware/neocampus-firstboot.log", "etc/ld.so.cache"))
    r = run("/usr/local/lib/neocampus/firstboot.sh", "system")
    assert r.returncode == 0, r.stderr
    assert snapshot(upper, skip=("boot/firmware/neocampus-firstboot.log", "etc/ld.so.cache")) == before
