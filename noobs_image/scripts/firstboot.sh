#!/bin/sh
# neOCampus first boot (noobs_image/README.md): one POSIX script for every way
# a Pi is installed (NOOBS/PINN, Imager's firstrun.sh, cloud-init).
#
#   firstboot.sh system   hostname, user and SSH key, Wi-Fi, time zone, I2C/SPI,
#                         then installs itself and neocampus-firstboot.service;
#                         needs no network (it runs from systemd.run= early on)
#   firstboot.sh agent    OS packages, git clone of the agent, its venv,
#                         `neoc agent install`; needs the network; run by the
#                         service until it succeeds
#   firstboot.sh all      both (cloud-init's runcmd: the network is up)
#
# Safe to run again: every step looks before it changes anything. A failing
# step is logged and the others go on; SSH and the user come first, so a Pi
# whose agent step fails can still be reached. It logs to the boot partition
# (neocampus-firstboot.log) and never prints a secret.
#
# NEOC_ROOT (unset on a Pi) puts every file path under a directory: the tests
# run this script against a throw-away root with recording fakes on PATH.

# @NEOC_SETTINGS@
# @NEOC_SETTINGS_END@

R=${NEOC_ROOT:-}
CONF=/etc/neocampus/firstboot.conf
SELF=/usr/local/lib/neocampus/firstboot.sh
UNIT=neocampus-firstboot.service
DONE=/var/lib/neocampus/firstboot.done
# the build's --agent-config and --serial, merged by `neoc agent install`
AGENT_EXTRA=/etc/neocampus/agent.image.toml
AGENT_DIR=/opt/neocampus

if [ -z "${NEOC_ROLE:-}" ] && [ -r "$R$CONF" ]; then
    # shellcheck source=/dev/null
    . "$R$CONF"
fi

# The boot partition: /boot/firmware since Bookworm, /boot before.
BOOT=$R/boot
if [ -f "$R/boot/firmware/config.txt" ] || [ -f "$R/boot/firmware/cmdline.txt" ]; then
    BOOT=$R/boot/firmware
fi
LOG=$BOOT/neocampus-firstboot.log
FAILED=0
TAB=$(printf '\t')

log() {
    line="$(date -u +%Y-%m-%dT%H:%M:%SZ 2>/dev/null) $*"
    printf '%s\n' "$line" >>"$LOG" 2>/dev/null || true
    printf 'neocampus-firstboot: %s\n' "$*"
}

# report STATUS NAME: log a step's outcome; the next steps go on after a failure.
report() {
    if [ "$1" -eq 0 ]; then
        log "ok: $2"
    else
        log "FAILED: $2 (the other steps go on)"
        FAILED=1
    fi
}

# put_file PATH MODE: stdin to PATH when it differs (temp file, then rename).
# Returns 0 either way; says on stdout whether it changed.
put_file() {
    tmp="$1.neoc-tmp"
    mkdir -p "$(dirname "$1")" || return 1
    (umask 077 && cat >"$tmp") || return 1
    if [ -f "$1" ] && cmp -s "$tmp" "$1"; then
        rm -f "$tmp"
        chmod "$2" "$1"
        return 0
    fi
    chmod "$2" "$tmp" && mv -f "$tmp" "$1" || return 1
    log "wrote ${1#"$R"}"
}

# ensure_line FILE LINE: append LINE to FILE unless it is there already.
ensure_line() {
    grep -qxF -- "$2" "$1" 2>/dev/null && return 0
    printf '%s\n' "$2" >>"$1" || return 1
    log "added to ${1#"$R"}: $2"
}

mac_address() {
    for dev in eth0 end0 wlan0; do
        if [ -r "$R/sys/class/net/$dev/address" ]; then
            cat "$R/sys/class/net/$dev/address"
            return 0
        fi
    done
    for f in "$R"/sys/class/net/*/address; do
        case $f in */lo/address) continue ;; esac
        [ -r "$f" ] && cat "$f" && return 0
    done
    return 1
}

set_hostname() {
    mac=$(mac_address | tr -d ':\n' | tr 'A-F' 'a-f') || return 1
    [ ${#mac} -eq 12 ] || { log "no MAC address found"; return 1; }
    m4=$(printf '%s' "$mac" | cut -c9-12)
    m6=$(printf '%s' "$mac" | cut -c7-12)
    name=$(printf '%s' "$NEOC_HOSTNAME_PATTERN" | sed "s/{mac4}/$m4/g; s/{mac6}/$m6/g; s/{mac}/$mac/g")
    old=$(cat "$R/etc/hostname" 2>/dev/null)
    printf '%s\n' "$name" | put_file "$R/etc/hostname" 644 || return 1
    if grep -q '^127\.0\.1\.1[[:space:]]' "$R/etc/hosts" 2>/dev/null; then
        if ! grep -qx "127\.0\.1\.1[[:space:]]*$name" "$R/etc/hosts"; then
            sed -i "s/^127\.0\.1\.1[[:space:]].*/127.0.1.1$TAB$name/" "$R/etc/hosts" || return 1
            log "127.0.1.1 is $name in /etc/hosts"
        fi
    else
        ensure_line "$R/etc/hosts" "127.0.1.1$TAB$name" || return 1
    fi
    if [ "$old" != "$name" ]; then
        [ -n "$R" ] || hostname "$name" 2>/dev/null || true
        log "hostname: $name (MAC $mac)"
    fi
}

passwd_field() {  # passwd_field USER N
    awk -F: -v u="$1" -v n="$2" '$1 == u { print $n }' "$R/etc/passwd"
}

set_user() {
    if [ -z "$(passwd_field "$NEOC_USER" 1)" ]; then
        first=$(awk -F: '$3 == 1000 { print $1 }' "$R/etc/passwd")
        if [ -x "$R/usr/lib/userconf-pi/userconf" ]; then
            # Raspberry Pi OS: renames the first user and marks the system configured (as Imager does)
            "$R/usr/lib/userconf-pi/userconf" "$NEOC_USER" '' || return 1
        elif [ -n "$first" ]; then
            usermod -l "$NEOC_USER" -d "/home/$NEOC_USER" -m "$first" && groupmod -n "$NEOC_USER" "$first" || return 1
        else
            useradd -m -s /bin/bash "$NEOC_USER" || return 1
        fi
        log "user $NEOC_USER created"
    fi
    for g in sudo adm dialout gpio i2c spi video; do
        grep -q "^$g:" "$R/etc/group" || continue
        awk -F: -v g="$g" -v u="$NEOC_USER" '$1 == g { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) f = 1 } END { exit !f }' "$R/etc/group" && continue
        usermod -a -G "$g" "$NEOC_USER" || return 1
        log "user $NEOC_USER joins group $g"
    done
    # key-only user: no password to guess, sudo without one
    printf '%s ALL=(ALL) NOPASSWD: ALL\n' "$NEOC_USER" | put_file "$R/etc/sudoers.d/010_$NEOC_USER-nopasswd" 440
}

set_ssh() {
    home=$(passwd_field "$NEOC_USER" 6)
    [ -n "$home" ] || { log "no home for $NEOC_USER"; return 1; }
    mkdir -p "$R$home/.ssh" && chmod 700 "$R$home/.ssh" || return 1
    keys=$R$home/.ssh/authorized_keys
    touch "$keys" && chmod 600 "$keys" || return 1
    printf '%s\n' "$NEOC_SSH_KEYS" | while IFS= read -r key; do
        [ -n "$key" ] && ensure_line "$keys" "$key"
    done
    [ -s "$keys" ] || return 1
    uid=$(passwd_field "$NEOC_USER" 3)
    gid=$(passwd_field "$NEOC_USER" 4)
    chown -R "$uid:$gid" "$R$home/.ssh" || return 1
    # only once a key is in place: passwords off
    printf 'PasswordAuthentication no\n' | put_file "$R/etc/ssh/sshd_config.d/10-neocampus.conf" 644 || return 1
    : >"$BOOT/ssh" 2>/dev/null || true  # sshswitch turns SSH on at boot even if systemctl below fails
    # -L: an enabled unit's link points at /lib/..., outside $R when there is one
    if [ ! -L "$R/etc/systemd/system/multi-user.target.wants/ssh.service" ]; then
        systemctl enable ssh || return 1
        log "ssh enabled"
    fi
}

set_cmdline_option() {  # set_cmdline_option NAME VALUE in the kernel command line
    f=$BOOT/cmdline.txt
    [ -f "$f" ] || return 0
    grep -Eq "(^| )$1=$2( |\$)" "$f" && return 0
    if grep -Eq "(^| )$1=" "$f"; then
        sed -E -i "s/(^| )$1=[^ ]*/\1$1=$2/" "$f" || return 1
    else
        sed -i "1s/\$/ $1=$2/" "$f" || return 1
    fi
    log "cmdline.txt: $1=$2"
}

set_wifi() {
    set_cmdline_option cfg80211.ieee80211_regdom "$NEOC_WIFI_COUNTRY" || return 1
    [ -n "${NEOC_WIFI_SSID:-}" ] || return 0
    if [ -d "$R/etc/NetworkManager" ]; then
        {
            printf '[connection]\nid=neocampus-wifi\nuuid=%s\ntype=wifi\n\n' "${NEOC_WIFI_UUID:-}"
            printf '[wifi]\nmode=infrastructure\nssid=%s\n\n' "$NEOC_WIFI_SSID"
            if [ -n "$NEOC_WIFI_PSK" ]; then
                printf '[wifi-security]\nkey-mgmt=wpa-psk\npsk=%s\n\n' "$NEOC_WIFI_PSK"
            fi
            printf '[ipv4]\nmethod=auto\n\n[ipv6]\nmethod=auto\n'
        } | put_file "$R/etc/NetworkManager/system-connections/neocampus-wifi.nmconnection" 600 || return 1
    else
        {
            printf 'country=%s\nctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev\nupdate_config=1\n\n' \
                "$NEOC_WIFI_COUNTRY"
            printf 'network={\n\tssid="%s"\n' "$NEOC_WIFI_SSID"
            if [ -n "$NEOC_WIFI_PSK" ]; then
                printf '\tpsk=%s\n}\n' "$NEOC_WIFI_PSK"
            else
                printf '\tkey_mgmt=NONE\n}\n'
            fi
        } | put_file "$R/etc/wpa_supplicant/wpa_supplicant.conf" 600 || return 1
    fi
    for f in "$R"/var/lib/systemd/rfkill/*:wlan; do
        [ -f "$f" ] && [ "$(cat "$f")" != 0 ] && echo 0 >"$f"
    done
    return 0
}

set_timezone() {
    zone=/usr/share/zoneinfo/$NEOC_TIMEZONE
    [ -e "$R$zone" ] || { log "no $zone"; return 1; }
    if [ "$(readlink "$R/etc/localtime" 2>/dev/null)" != "$zone" ]; then
        ln -sf "$zone" "$R/etc/localtime" || return 1
        log "time zone: $NEOC_TIMEZONE"
    fi
    printf '%s\n' "$NEOC_TIMEZONE" | put_file "$R/etc/timezone" 644
}

# config_on KEY VALUE: KEY=VALUE in config.txt, uncommented, whatever was there
config_on() {
    f=$BOOT/config.txt
    [ -f "$f" ] || : >"$f"
    grep -qx "$1=$2" "$f" && return 0
    if grep -q "^#\?$1=" "$f"; then
        sed -i "s/^#\?$1=.*/$1=$2/" "$f" || return 1
    else
        printf '\n[all]\n%s=%s\n' "$1" "$2" >>"$f" || return 1
    fi
    log "config.txt: $1=$2"
}

set_interfaces() {
    config_on dtparam=i2c_arm on && config_on dtparam=spi on || return 1
    ensure_line "$R/etc/modules" i2c-dev
}

install_self() {
    mkdir -p "$R/etc/neocampus" || return 1
    # the settings, Wi-Fi PSK included: root only
    {
        for v in NEOC_ROLE NEOC_AGENT_GIT NEOC_AGENT_REF NEOC_SERVER NEOC_USER NEOC_HOSTNAME_PATTERN \
                 NEOC_TIMEZONE NEOC_WIFI_COUNTRY NEOC_WIFI_SSID NEOC_WIFI_PSK NEOC_WIFI_UUID NEOC_SSH_KEYS \
                 NEOC_PACKAGES NEOC_AGENT_CONFIG; do
            val=
            eval "val=\${$v:-}"
            printf "%s='%s'\n" "$v" "$(printf '%s' "$val" | sed "s/'/'\\\\''/g")"
        done
    } | put_file "$R$CONF" 600 || return 1
    # the copy that stays keeps no setting (they are in $CONF, root only)
    sed '/^# @NEOC_SETTINGS@$/,/^# @NEOC_SETTINGS_END@$/d' "$0" | put_file "$R$SELF" 755 || return 1
    printf '%s\n' \
        '[Unit]' \
        'Description=neOCampus first boot: the Pi agent from git (noobs_image)' \
        'Wants=network-online.target' \
        'After=network-online.target time-sync.target' \
        "ConditionPathExists=!$DONE" \
        '' \
        '[Service]' \
        'Type=oneshot' \
        "ExecStart=$SELF agent" \
        'Restart=on-failure' \
        'RestartSec=60' \
        'TimeoutStartSec=1h' \
        '' \
        '[Install]' \
        'WantedBy=multi-user.target' | put_file "$R/etc/systemd/system/$UNIT" 644 || return 1
    if [ ! -f "$R$DONE" ] && [ ! -L "$R/etc/systemd/system/multi-user.target.wants/$UNIT" ]; then
        systemctl enable "$UNIT" || return 1
        log "$UNIT enabled"
    fi
}

# Imager's systemd path: firstrun.sh runs once, then leaves the command line.
leave_boot_partition() {
    f=$BOOT/cmdline.txt
    if [ -f "$f" ] && grep -q ' systemd\.run=' "$f"; then
        sed -i 's| systemd\.run=[^ ]*||; s| systemd\.run_success_action=[^ ]*||; s| systemd\.unit=kernel-command-line\.target||' "$f"
        log "systemd.run removed from cmdline.txt"
    fi
    # firstrun.sh holds the Wi-Fi PSK: it must not stay on a partition every user can read
    case $0 in
        */firstrun.sh) rm -f "$0" && log "firstrun.sh removed" ;;
    esac
    return 0
}

install_packages() {
    missing=
    for p in $NEOC_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    log "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || return 1
    # shellcheck disable=SC2086 # one word per package
    apt-get install -y -q --no-install-recommends $missing || return 1
}

clone_agent() {
    d=$R$AGENT_DIR
    if [ ! -d "$d/.git" ]; then
        rm -rf "$d.neoc-tmp"
        git clone --quiet "$NEOC_AGENT_GIT" "$d.neoc-tmp" || return 1
        mv "$d.neoc-tmp" "$d" || return 1
        log "cloned $NEOC_AGENT_GIT into $AGENT_DIR"
    fi
    want=$(git -C "$d" rev-parse -q --verify "$NEOC_AGENT_REF^{commit}" 2>/dev/null ||
           git -C "$d" rev-parse -q --verify "origin/$NEOC_AGENT_REF^{commit}" 2>/dev/null)
    if [ -z "$want" ]; then
        git -C "$d" fetch --quiet --tags origin || return 1
        want=$(git -C "$d" rev-parse -q --verify "origin/$NEOC_AGENT_REF^{commit}" 2>/dev/null ||
               git -C "$d" rev-parse -q --verify "$NEOC_AGENT_REF^{commit}") || { log "no ref $NEOC_AGENT_REF"; return 1; }
    fi
    if [ "$(git -C "$d" rev-parse HEAD)" != "$want" ]; then
        git -C "$d" checkout --quiet --detach "$want" || return 1
        log "agent at $NEOC_AGENT_REF ($want)"
    fi
}

agent_venv() {
    d=$R$AGENT_DIR
    [ -x "$d/.venv/bin/python" ] || python3 -m venv "$d/.venv" || return 1
    head=$(git -C "$d" rev-parse HEAD) || return 1
    [ "$(cat "$d/.venv/.neoc-installed" 2>/dev/null)" = "$head" ] && return 0
    "$d/.venv/bin/python" -m pip install --quiet "$d" || return 1
    printf '%s\n' "$head" >"$d/.venv/.neoc-installed"
    log "agent installed in $AGENT_DIR/.venv"
}

agent_install() {
    # The agent's own installer writes /etc/neocampus/agent.toml and its units;
    # it leaves a file already as wanted alone. Started without waiting: the
    # agent says READY only once it reaches the server.
    set -- --role "$NEOC_ROLE" --server "$NEOC_SERVER" --no-start
    if [ -n "${NEOC_AGENT_CONFIG:-}" ]; then
        printf '%s\n' "$NEOC_AGENT_CONFIG" | put_file "$R$AGENT_EXTRA" 644 || return 1
        set -- "$@" --agent-config "$R$AGENT_EXTRA"
    fi
    "$R$AGENT_DIR/.venv/bin/neoc" agent install "$@" || return 1
    systemctl start --no-block neocampus-agent.service || true
}

finish() {
    mkdir -p "$(dirname "$R$DONE")" || return 1
    if [ ! -f "$R$DONE" ]; then
        date -u +%Y-%m-%dT%H:%M:%SZ >"$R$DONE" || return 1
        systemctl disable "$UNIT" 2>/dev/null || true
        log "first boot done"
    fi
}

# NOOBS and PINN record the flavour picked at install time: it names the role.
role_from_flavour() {
    f=$BOOT/os_config.json
    [ -f "$f" ] || return 0
    flavour=$(sed -n 's/.*"flavour"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | head -n 1)
    case ${flavour##* - } in
        sensors|display|concentrator) NEOC_ROLE=${flavour##* - } ;;
    esac
}

system_phase() {
    role_from_flavour
    log "system set-up, role $NEOC_ROLE"
    set_user; report $? "user $NEOC_USER"
    set_ssh; report $? "ssh key"
    set_hostname; report $? hostname
    set_wifi; report $? wifi
    set_timezone; report $? "time zone"
    set_interfaces; report $? "i2c and spi"
    install_self; report $? "first-boot service"
}

agent_phase() {
    log "agent set-up, role $NEOC_ROLE, $NEOC_AGENT_GIT at $NEOC_AGENT_REF"
    # in order: each needs the one before
    install_packages && log "ok: packages" &&
        clone_agent && log "ok: git" &&
        agent_venv && log "ok: venv" &&
        agent_install && log "ok: neoc agent install" &&
        finish && return 0
    log "FAILED: agent set-up (SSH is on; the service tries again in a minute)"
    FAILED=1
    return 1
}

if [ -z "${NEOC_ROLE:-}" ]; then
    log "no settings (neither in this script nor in $CONF)"
    exit 1
fi

case ${1:-system} in
    system)
        system_phase
        leave_boot_partition
        # exit 0 whatever failed: systemd.run_success_action reboots into a
        # normal system where SSH runs (a failure would stop the boot here)
        exit 0 ;;
    agent)
        agent_phase
        exit $FAILED ;;
    all)
        system_phase
        agent_phase || true
        leave_boot_partition
        exit $FAILED ;;
    *)
        echo "usage: $0 [system|agent|all]" >&2
        exit 2 ;;
esac
