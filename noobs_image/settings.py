"""What a Pi install is made of, checked before anything is written.

Every value given to `neoc image build` or `neoc image customise` goes
through one function here that either returns it normalised or raises
SettingError naming the option and the bad value. The Wi-Fi passphrase never
leaves this module in clear: it becomes the WPA PSK (PBKDF2-HMAC-SHA1, 4096
rounds, the SSID as salt), which is what wpa_supplicant, NetworkManager and
netplan accept in its place.
"""
import base64
import binascii
import dataclasses
import hashlib
import os
import re
import struct
import urllib.parse
import zoneinfo

from rpi_agent import config as agent_config, install as agent_install

ROLES = agent_config.ROLES
DEFAULT_SERVER = "https://sensocampus.univ-tlse3.fr"
DEFAULT_PATTERN = "neoc-{mac4}"
PLACEHOLDERS = ("{mac4}", "{mac6}", "{mac}")
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
ISO3166 = "/usr/share/zoneinfo/iso3166.tab"


class SettingError(ValueError):
    """A bad value: str() names the option and the value."""

    def __init__(self, option, value, why):
        super().__init__("%s %r: %s" % (option, value, why))
        self.option = option


@dataclasses.dataclass(frozen=True)
class Wifi:
    ssid: str
    psk: str          # 64 hex digits, or "" for an open network
    country: str

    def __repr__(self):  # a traceback or a debug print never shows the PSK
        return "Wifi(ssid=%r, psk=%s, country=%r)" % (self.ssid, "<hidden>" if self.psk else "''", self.country)


@dataclasses.dataclass(frozen=True)
class Settings:
    role: str
    agent_git: str
    agent_ref: str
    server: str
    user: str
    ssh_keys: tuple
    hostname_pattern: str
    timezone: str
    wifi_country: str
    wifi: Wifi = None
    agent_config: str = ""   # TOML merged into each Pi's agent.toml (--agent-config, --serial), or ""

    def with_role(self, role):
        return dataclasses.replace(self, role=check_role(role))


def check_role(role):
    if role not in ROLES:
        raise SettingError("--role", role, "want one of %s" % ", ".join(ROLES))
    return role


_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def hostname_for(pattern, mac):
    """The hostname a Pi of this MAC gets (the first-boot script does the same in sh)."""
    hexmac = re.sub(r"[^0-9a-f]", "", mac.lower())
    return pattern.replace("{mac4}", hexmac[-4:]).replace("{mac6}", hexmac[-6:]).replace("{mac}", hexmac)


def check_hostname_pattern(pattern):
    if not any(p in pattern for p in PLACEHOLDERS):
        raise SettingError("--hostname-pattern", pattern, "needs {mac4}, {mac6} or {mac} so that each Pi gets "
                           "its own name")
    if re.search(r"\{(?!mac4\}|mac6\}|mac\})", pattern) or "}" in re.sub(r"\{mac[46]?\}", "", pattern):
        raise SettingError("--hostname-pattern", pattern, "only {mac4}, {mac6} and {mac} may stand in braces")
    for sample in ("ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"):
        name = hostname_for(pattern, sample)
        if not _LABEL.match(name):
            raise SettingError("--hostname-pattern", pattern, "gives %r, not a hostname (a-z, 0-9 and '-', "
                               "1 to 63 characters, no '-' at either end)" % name)
    return pattern


def check_url(option, url, schemes=("http", "https")):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname or any(c.isspace() or c in "\"'" for c in url):
        raise SettingError(option, url, "want an absolute %s URL with a host" % " or ".join(s + "://" for s in schemes))
    return url.rstrip("/")


_GIT_URL = re.compile(r"^((https?|git|ssh|file)://[^/\s]*/\S+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\S+)$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def check_agent_git(value, default_ref="main"):
    """URL[@REF] -> (url, ref). The '@' of user@host in scp-like URLs is not a ref."""
    url, ref = value, default_ref
    head, sep, tail = value.rpartition("@")
    if sep and _GIT_URL.match(head) and ":" not in tail:
        url, ref = head, tail
    if not _GIT_URL.match(url) or "'" in url or '"' in url:
        raise SettingError("--agent-git", value, "want a git URL (https://, ssh://, file:// or user@host:path), "
                           "optionally followed by @REF")
    if not _REF.match(ref) or ".." in ref or ref.endswith((".lock", "/", ".")):
        raise SettingError("--agent-git", value, "bad git ref %r" % ref)
    return url, ref


def check_user(name):
    if not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", name) or name == "root":
        raise SettingError("--user", name, "want a Linux user name (lower case letters, digits, '_' and '-', "
                           "at most 32 characters, not root)")
    return name


def check_timezone(tz):
    if not re.match(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$", tz):
        raise SettingError("--timezone", tz, "not a time zone name (like Europe/Paris)")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingError("--timezone", tz, "unknown time zone (see timedatectl list-timezones)")
    return tz


def _countries():
    try:
        with open(ISO3166, encoding="utf-8") as f:
            return {line.split("\t")[0] for line in f if line[:1].isalpha()}
    except OSError:
        return None


def check_country(code):
    known = _countries()
    if not re.match(r"^[A-Z]{2}$", code or "") or (known and code not in known):
        raise SettingError("--wifi-country", code, "want an ISO 3166 country code in capitals, like FR")
    return code


def wpa_psk(ssid, passphrase):
    """The 256-bit WPA PSK of IEEE 802.11i (what wpa_passphrase prints)."""
    return hashlib.pbkdf2_hmac("sha1", passphrase.encode(), ssid.encode(), 4096, 32).hex()


def check_wifi(ssid, passphrase, country):
    """-> Wifi with the PSK; passphrase "" is an open network."""
    n = len(ssid.encode("utf-8"))
    if not 1 <= n <= 32:
        raise SettingError("--wifi", ssid, "an SSID is 1 to 32 bytes (this one is %d)" % n)
    if any(ord(c) < 32 or c in "\"'\\" for c in ssid):
        raise SettingError("--wifi", ssid, "control characters, quotes and backslashes are not supported in an SSID")
    if passphrase == "":
        psk = ""
    elif re.fullmatch(r"[0-9a-fA-F]{64}", passphrase):
        psk = passphrase.lower()  # already a PSK
    elif not 8 <= len(passphrase) <= 63 or any(not 32 <= ord(c) <= 126 for c in passphrase):
        # the value itself is a secret: name its length, never the characters
        raise SettingError("--wifi", ssid + ":<password>", "a WPA passphrase is 8 to 63 printable ASCII "
                           "characters (this one is %d)" % len(passphrase))
    else:
        psk = wpa_psk(ssid, passphrase)
    return Wifi(ssid, psk, check_country(country))


def check_ssh_keys(path):
    """The public keys of an authorized_keys-style file, each checked."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise SettingError("--ssh-key", path, "cannot read it (%s)" % e)
    if "PRIVATE KEY" in text:
        raise SettingError("--ssh-key", path, "this is a private key: give the .pub file")
    keys = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 2 or fields[0] not in KEY_TYPES:
            raise SettingError("--ssh-key", path, "line %d is not an OpenSSH public key (want one of %s)"
                               % (n, ", ".join(KEY_TYPES)))
        try:
            blob = base64.b64decode(fields[1], validate=True)
            (size,) = struct.unpack(">I", blob[:4])
            inner = blob[4:4 + size].decode("ascii")
        except (binascii.Error, struct.error, UnicodeDecodeError):
            inner = None
        if inner != fields[0]:
            raise SettingError("--ssh-key", path, "line %d: the key data does not decode to a %s key" % (n, fields[0]))
        keys.append(line)
    if not keys:
        raise SettingError("--ssh-key", path, "no public key in it")
    return tuple(keys)


def default_ssh_key():
    """~/.ssh/id_ed25519.pub or id_rsa.pub when there is one."""
    for name in ("id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"):
        path = os.path.expanduser("~/.ssh/" + name)
        if os.path.exists(path):
            return path
    return None


# Set per Pi by the build's own options (and the flavour picked), never by the fragment.
FRAGMENT_OWN = {"roles": "--role", "server": "--server", "mac": "each Pi's own MAC"}


def check_agent_config(path, serial, server):
    """--agent-config FILE and --serial PORT[:BAUD] -> the TOML every Pi's
    `neoc agent install --agent-config` merges (or ""), checked now by the
    agent's own config parser, with every role the build makes: a Pi never
    learns at first boot that its agent cannot start."""
    lines = []
    for value in serial:
        try:
            lines.append(agent_config.serial_line(value))
        except agent_config.OptionError as e:
            raise SettingError(e.option, e.value, e.why)
    doc = {}
    if path:
        try:
            doc = agent_config.read(path)
        except agent_config.ConfigError as e:
            raise SettingError("--agent-config", path, str(e).replace(path + ": ", "", 1))
        agent = doc.get("agent")
        for key, by in FRAGMENT_OWN.items():
            if isinstance(agent, dict) and key in agent:
                raise SettingError("--agent-config", path, "agent.%s is set by %s, not in the fragment" % (key, by))
    if not doc and not lines:
        return ""
    try:
        fragment = agent_install.merge(doc, lines)
        agent_install.render_config(list(ROLES), server, None, fragment)
    except agent_config.ConfigError as e:
        raise SettingError("--agent-config" if path else "--serial", path or " ".join(serial), str(e))
    import tomli_w
    return tomli_w.dumps(fragment)


def agent_notes(settings, role):
    """What the agent of a Pi of this role will say about its config at
    start (rpi_agent.config.notes), e.g. a concentrator given no line."""
    import tomllib
    extra = tomllib.loads(settings.agent_config) if settings.agent_config else None
    return agent_config.notes(agent_install.render_config([role], settings.server, None, extra)[1])


def build(role, agent_git, server=DEFAULT_SERVER, user="pi", ssh_key=None, hostname_pattern=DEFAULT_PATTERN,
          timezone="Europe/Paris", wifi_country="FR", wifi=None, agent_config=None, serial=()):
    """All the settings, checked, or SettingError on the first bad one.
    wifi is (ssid, passphrase) or None; agent_config a TOML file, serial
    PORT[:BAUD] values (check_agent_config)."""
    url, ref = check_agent_git(agent_git)
    ssh_key = ssh_key or default_ssh_key()
    if not ssh_key:
        raise SettingError("--ssh-key", None, "none given and no ~/.ssh/id_*.pub: a Pi without a key could not be "
                           "reached over SSH (the user has no password)")
    country = check_country(wifi_country)
    server = check_url("--server", server)
    return Settings(role=check_role(role), agent_git=url, agent_ref=ref, server=server,
                    user=check_user(user), ssh_keys=check_ssh_keys(ssh_key),
                    hostname_pattern=check_hostname_pattern(hostname_pattern), timezone=check_timezone(timezone),
                    wifi_country=country, wifi=check_wifi(wifi[0], wifi[1], country) if wifi else None,
                    agent_config=check_agent_config(agent_config, serial, server))
