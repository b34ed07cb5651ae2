"""`neoc agent install`: the agent's config and systemd units, enabled and
started. Idempotent (a file already as wanted is left alone and said so;
nothing restarts then), `--dry-run` prints every file and command instead,
`--root DIR` writes under DIR and enables offline (`systemctl --root`),
starting nothing.

The agent's unit is Type=notify with a watchdog: the agent says READY=1 once
it publishes and pings WATCHDOG=1 from its loop (rpi_agent/notify.py), so a
hung loop is restarted by systemd. Displays also get neocampus-kiosk.service,
Chromium in kiosk mode on the agent's local page.
"""
import os
import shutil
import subprocess
import sys

from rpi_agent import config

AGENT_UNIT = "neocampus-agent.service"
KIOSK_UNIT = "neocampus-kiosk.service"
CONFIG_PATH = "/etc/neocampus/agent.toml"
UNIT_DIR = "/etc/systemd/system"
CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


class InstallError(RuntimeError):
    pass


# What the written file says under its settings, as comments: where to add
# what the options do not set.
HINTS = {
    "display": ['# The rooms shown (default: the registry\'s, then its own), under [display]: rooms = ["u4/302"]'],
    "concentrator": ["# No line yet: the concentrator bridges nothing until one is added (rpi_agent/README.md):",
                     "# [[concentrator.serial]]",
                     '# port = "/dev/ttyUSB0"',
                     "# baudrate = 9600"],
}


def merge(extra=None, serial=()):
    """A TOML fragment (--agent-config) with serial's [[concentrator.serial]]
    lines (--serial) after its own; neither is changed."""
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (extra or {}).items()}
    if serial:
        conc = doc.setdefault("concentrator", {})
        lines = conc.get("serial", []) if isinstance(conc, dict) else None
        if not isinstance(lines, list):
            raise config.ConfigError("concentrator.serial: must be an array of tables ([[concentrator.serial]])")
        conc["serial"] = lines + [dict(line) for line in serial]
    return doc


def config_doc(roles, server, mac, extra=None, serial=()):
    """The agent.toml document: merge(extra, serial) under the options
    (roles, server and mac win over the fragment's [agent] keys)."""
    doc = merge(extra, serial)
    agent = doc.pop("agent", {})
    if not isinstance(agent, dict):
        raise config.ConfigError("agent: must be a table")
    doc = {"agent": agent, **doc}  # [agent] first in the file, where a person looks
    if roles:
        agent["roles"] = list(dict.fromkeys(roles))
    agent.setdefault("roles", ["sensors"])
    for key, value in (("server", server), ("mac", mac)):
        if value:
            agent[key] = value
    if "display" in agent["roles"] and isinstance(doc.setdefault("display", {}), dict):
        doc["display"].setdefault("listen", "127.0.0.1:8080")
    return doc


def render_config(roles, server, mac, extra=None, serial=()):
    """(agent.toml's text, the config it gives): checked by the agent's own
    parser, so what is written starts. ConfigError names the bad key."""
    import tomli_w
    doc = config_doc(roles, server, mac, extra, serial)
    cfg = config.parse(doc)
    hints = []
    for role in cfg["agent"]["roles"]:
        if role == "concentrator" and (cfg["concentrator"]["serial"] or cfg["concentrator"]["modbus"]):
            continue
        if role == "display" and cfg["display"]["rooms"]:
            continue
        hints += HINTS.get(role, [])
    text = "# neOCampus Pi agent (neoc agent install). Settings: rpi_agent/README.md\n" + tomli_w.dumps(doc)
    if hints:
        text += "\n" + "\n".join(hints) + "\n"
    return text, cfg


def render_agent_unit(roles, python=None, run_user="root"):
    python = python or sys.executable
    return """[Unit]
Description=neOCampus Raspberry Pi agent (roles: {roles})
Documentation=man:systemd.service(5)
Wants=network-online.target
After=network-online.target time-sync.target

[Service]
Type=notify
NotifyAccess=main
ExecStart={python} -m rpi_agent --config {config}
Restart=always
RestartSec=5
WatchdogSec=60
TimeoutStartSec=infinity
TimeoutStopSec=20
KillMode=control-group
User={user}
StateDirectory=neocampus
StateDirectoryMode=0700
ConfigurationDirectory=neocampus

[Install]
WantedBy=multi-user.target
""".format(roles=", ".join(roles), python=python, config=CONFIG_PATH, user=run_user)


def render_kiosk_unit(chromium, url="http://127.0.0.1:8080/", kiosk_user="pi"):
    return """[Unit]
Description=neOCampus display: Chromium in kiosk mode on the agent's page
Wants={agent}
After={agent} graphical.target

[Service]
User={user}
Environment=DISPLAY=:0
Environment=WAYLAND_DISPLAY=wayland-1
Environment=XDG_RUNTIME_DIR=/run/user/1000
ExecStart={chromium} --kiosk --noerrdialogs --disable-infobars --no-first-run --incognito --ozone-platform-hint=auto --check-for-update-interval=31536000 {url}
Restart=always
RestartSec=5

[Install]
WantedBy=graphical.target
""".format(agent=AGENT_UNIT, user=kiosk_user, chromium=chromium, url=url)


def _under(root, path):
    return os.path.join(root, path.lstrip("/"))


def plan(roles, server, mac, root="/", run_user="root", extra=None, serial=()):
    """[(absolute path under root, text, mode)], the units to enable and the
    notes to print. roles empty: the fragment's agent.roles, else sensors."""
    for r in roles or ():
        if r not in config.ROLES:
            raise InstallError("unknown role %r (roles: %s)" % (r, ", ".join(config.ROLES)))
    try:
        text, cfg = render_config(roles, server, mac, extra, serial)
    except config.ConfigError as e:
        raise InstallError(str(e))
    roles, notes = cfg["agent"]["roles"], config.notes(cfg)
    files = [(_under(root, CONFIG_PATH), text, 0o644),
             (_under(root, UNIT_DIR + "/" + AGENT_UNIT), render_agent_unit(roles, run_user=run_user), 0o644)]
    units = [AGENT_UNIT]
    if "display" in roles:
        chromium = next((c for c in CHROMIUMS if os.path.exists(_under(root, c))), CHROMIUMS[0])
        files.append((_under(root, UNIT_DIR + "/" + KIOSK_UNIT), render_kiosk_unit(chromium), 0o644))
        units.append(KIOSK_UNIT)
    return {"files": files, "units": units, "state_dir": _under(root, config.DEFAULT_STATE_DIR), "notes": notes}


def _write(path, text, mode):
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _run(cmd, dry_run, out):
    out.append(("would run: " if dry_run else "run: ") + " ".join(cmd))
    if dry_run:
        return 0
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if r.returncode:
        raise InstallError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, (r.stderr or r.stdout).strip()))
    return r.returncode


def apply(p, root="/", dry_run=False, start=True):
    """Carry out a plan; returns the lines to print."""
    out, changed = ["note: " + n for n in p.get("notes", ())], False
    for path, text, mode in p["files"]:
        try:
            with open(path) as f:
                same = f.read() == text
        except OSError:
            same = False
        if same:
            out.append("unchanged: " + path)
            continue
        changed = True
        if dry_run:
            out.append("would write: %s (mode %o)\n%s" % (path, mode, text))
            continue
        if os.path.exists(path) and path.endswith(".toml"):
            shutil.copy2(path, path + ".bak")  # someone's edits are kept beside it
            out.append("saved: %s.bak" % path)
        _write(path, text, mode)
        out.append("wrote: " + path)
    if not dry_run:
        os.makedirs(p["state_dir"], mode=0o700, exist_ok=True)
    systemctl = shutil.which("systemctl")
    offline = os.path.abspath(root) != "/"
    if systemctl is None:
        out.append("systemctl not found: units written, not enabled")
        return out
    if offline:
        _run([systemctl, "--root", root, "enable", *p["units"]], dry_run, out)
        out.append("--root: nothing started")
        return out
    _run([systemctl, "daemon-reload"], dry_run, out)
    _run([systemctl, "enable", *p["units"]], dry_run, out)
    if start:
        # restart only what changed; an unchanged install leaves running services alone
        _run([systemctl, "restart" if changed else "start", *p["units"]], dry_run, out)
    return out
