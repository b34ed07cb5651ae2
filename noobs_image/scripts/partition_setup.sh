#!/bin/sh
# neOCampus partition_setup.sh (noobs_image/README.md), for NOOBS and PINN.
#
# Run by the installer's busybox sh once the boot and root partitions are
# created and filled:
#   sh partition_setup.sh part1=DEV id1=LABEL=.. part2=DEV id2=UUID=..
# (the same values also in the environment; PINN adds partuuidN and, when
# restoring a backup, restore=true), with PATH only, in the new boot partition
# mounted as the working directory. partN is a device (/dev/mmcblk0p6) or
# PARTUUID=xxxxxxxx-06. A non-zero exit marks the OS failed.
#
# It points cmdline.txt's root= at the new root, rewrites the boot and root
# lines of the root's /etc/fstab (/boot/firmware since Bookworm, /boot
# before), and drops the first-boot files into the boot partition. Running it
# twice changes nothing more.

part1=${part1:-}
part2=${part2:-}
restore=${restore:-}
for arg in "$@"; do
    case $arg in
        part1=*) part1=${arg#part1=} ;;
        part2=*) part2=${arg#part2=} ;;
        restore=*) restore=${arg#restore=} ;;
    esac
done
if [ -z "$part1" ] || [ -z "$part2" ]; then
    echo "partition_setup.sh: want part1=... part2=... (got: $*)" >&2
    exit 1
fi

BOOTDIR=$(pwd)
[ -f "$BOOTDIR/cmdline.txt" ] || { echo "partition_setup.sh: no cmdline.txt in $BOOTDIR (not the boot partition?)" >&2; exit 1; }

device() {
    case $1 in
        PARTUUID=*|UUID=*|LABEL=*) findfs "$1" ;;
        *) echo "$1" ;;
    esac
}

ROOTMNT=$(mktemp -d) || exit 1
dev2=$(device "$part2") || { echo "partition_setup.sh: cannot find $part2" >&2; exit 1; }
mount "$dev2" "$ROOTMNT" || { echo "partition_setup.sh: cannot mount $dev2" >&2; exit 1; }
trap 'umount "$ROOTMNT"; rmdir "$ROOTMNT" 2>/dev/null' EXIT

# put NAME: stdin into the boot partition's NAME unless it is there already
put() {
    cat >"$BOOTDIR/$1.tmp" || return 1
    if cmp -s "$BOOTDIR/$1.tmp" "$BOOTDIR/$1"; then
        rm -f "$BOOTDIR/$1.tmp"
    else
        mv -f "$BOOTDIR/$1.tmp" "$BOOTDIR/$1" && echo "wrote $1"
    fi
}

# the first-boot files of this build (noobs_image renders them in here)
# @EMBEDDED@

# cmdline.txt: root= the new root partition
cmdline=$BOOTDIR/cmdline.txt
if grep -q 'root=' "$cmdline"; then
    grep -q "root=$part2\( \|\$\)" "$cmdline" || sed -i "s|root=[^ ]*|root=$part2|" "$cmdline" || exit 1
else
    sed -i "1s|\$| root=$part2|" "$cmdline" || exit 1
fi

# /etc/fstab: boot and root lines point at the new partitions
fstab=$ROOTMNT/etc/fstab
if [ -f "$fstab" ]; then
    awk -v p1="$part1" -v p2="$part2" 'BEGIN { OFS = "\t" }
        /^[ \t]*#/ || NF < 2 { print; next }
        ($2 == "/boot/firmware" || $2 == "/boot") && $1 != p1 { $1 = p1 }
        $2 == "/" && $1 != p2 { $1 = p2 }
        { print }' "$fstab" >"$fstab.tmp" || exit 1
    if cmp -s "$fstab.tmp" "$fstab"; then rm -f "$fstab.tmp"; else mv -f "$fstab.tmp" "$fstab" || exit 1; fi
else
    echo "partition_setup.sh: no /etc/fstab in the root partition" >&2
    exit 1
fi

# a restored backup keeps its own first-boot state
[ "$restore" = true ] && exit 0

# SSH on at boot whatever happens to the first-boot step
[ -f "$BOOTDIR/ssh" ] || : >"$BOOTDIR/ssh"

append_cmdline() {
    grep -qF -- "$1" "$cmdline" || sed -i "1s|\$| $1|" "$cmdline"
}

if [ -x "$ROOTMNT/usr/bin/cloud-init" ] && [ -d "$ROOTMNT/etc/cloud" ]; then
    # cloud-init's NoCloud seed on the boot partition
    write_cloudinit
    append_cmdline "ds=nocloud;i=$INSTANCE_ID"
else
    # Imager's systemd path: firstrun.sh once, through systemd.run=
    write_firstrun
    append_cmdline "systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target"
fi
exit 0
