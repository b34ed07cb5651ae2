"""`neoc image build`: a build directory, served as it is at --repo-url.

    noobs/     the NOOBS/PINN card (card.py)
    repo/      os_list_v3.json (NOOBS) and repo_list.json (PINN) (netinstall.py)
    imager/    firstboot/<role>/ (firstrun.sh, user-data, meta-data,
               network-config), and with --base-image the per-role images and
               os_list_imager.json (imager.py)

Every value is checked (settings.py) and every base image found before the
first file is written; every JSON written is checked against its schema
(schemas.py). Files that hold the Wi-Fi PSK are mode 0600.
"""
import datetime
import json
import os
import tempfile

from noobs_image import card, fatimage, firstboot, imager, netinstall, schemas, settings as settings_mod, tarballs


class BuildError(RuntimeError):
    pass


def release_date():
    """Today (UTC), or SOURCE_DATE_EPOCH's day for a reproducible build."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch
            else datetime.datetime.now(datetime.timezone.utc))
    return when.strftime("%Y-%m-%d")


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(tmp, mode)  # whatever the umask
    os.replace(tmp, path)


def check_base_images(base_images):
    """{release: path} checked: known release, readable file."""
    for release, path in base_images.items():
        if release not in imager.RELEASES:
            raise settings_mod.SettingError("--base-image", "%s=%s" % (release, path),
                                            "release must be one of %s" % ", ".join(imager.RELEASES))
        if not os.path.isfile(path):
            raise settings_mod.SettingError("--base-image", "%s=%s" % (release, path), "no such file")
    return base_images


def read_base_images(base_images, folder, say):
    """{release: uncompressed temp copy}, each checked to be a Raspberry Pi OS image
    (a FAT partition with cmdline.txt), before anything of the build is written."""
    raws = {}
    try:
        for release, base in base_images.items():
            say("reading %s (%s)" % (base, release))
            raws[release] = imager.decompress(base, folder)
            try:
                found = fatimage.read(raws[release], "cmdline.txt") is not None
            except fatimage.ImageError as e:
                found, why = False, str(e).replace(raws[release], "it")
            else:
                why = "no cmdline.txt in its FAT partition"
            if not found:
                raise fatimage.ImageError("--base-image %s=%s: %s (not a Raspberry Pi OS image?)"
                                          % (release, base, why))
    except Exception:
        for raw in raws.values():
            os.unlink(raw)
        raise
    return raws


def build(out, settings, repo_url, base_images=None, rootfs=None, say=print):
    """Returns the paths written, relative to out."""
    repo_url = settings_mod.check_url("--repo-url", repo_url)
    base_images = check_base_images(dict(base_images or {}))
    if rootfs and not all(os.path.isdir(os.path.join(rootfs, x)) for x in tarballs.LABELS):
        raise settings_mod.SettingError("--rootfs", rootfs, "want a directory with boot/ and root/ in it")
    if not base_images:
        return _build(out, settings, repo_url, {}, rootfs, say)
    # the base images, uncompressed beside the build (they are big: not in /tmp)
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".neoc-image-", dir=parent) as tmp:
        return _build(out, settings, repo_url, read_base_images(base_images, tmp, say), rootfs, say)


def _build(out, settings, repo_url, raws, rootfs, say):
    date = release_date()
    version = date.replace("-", ".")
    salt = version
    secret = 0o600 if settings.wifi and settings.wifi.psk else 0o644
    written = []

    def put(rel, data, mode=0o644):
        write(os.path.join(out, rel), data, mode)
        written.append(rel)

    # noobs/
    for rel, data in card.files(settings, repo_url, date, version, salt).items():
        put("noobs/" + rel, data, secret if os.path.basename(rel) in firstboot.SECRET_FILES else 0o644)

    # repo/
    folder = os.path.join(out, "noobs", card.FOLDER)
    def load(name):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            return json.load(f)
    oslist = netinstall.os_list(load("os.json"), load("partitions.json"), load("flavours.json"), repo_url)
    put("repo/os_list_v3.json", json.dumps(oslist, indent=2, ensure_ascii=False) + "\n")
    put("repo/repo_list.json", json.dumps(netinstall.repo_list(repo_url), indent=2) + "\n")

    # imager/: first-boot files per role, then the images
    for role in settings_mod.ROLES:
        for name, text in firstboot.files(settings.with_role(role), salt).items():
            put("imager/firstboot/%s/%s" % (role, name), text, secret if name in firstboot.SECRET_FILES else 0o644)
    entries = []
    for release in sorted(raws, key=list(imager.RELEASES).index):
        for role in settings_mod.ROLES:
            rel = "imager/" + imager.image_name(role, release)
            say("image %s: the %s first-boot files (%s)" % (rel, role, imager.RELEASES[release]))
            info = imager.make_image(raws[release], os.path.join(out, rel), settings.with_role(role),
                                     imager.RELEASES[release], secret, salt)
            written.append(rel)
            entries.append(imager.entry(role, release, info, repo_url, date))
    if entries:
        newest = max(raws, key=list(imager.RELEASES).index)
        default = imager.entry_name(settings.role, newest)
        put("imager/" + imager.LIST_NAME, json.dumps(imager.os_list(entries, default), indent=2) + "\n")
    else:
        say("imager/%s not written: give --base-image bookworm=FILE and/or trixie=FILE (a Raspberry Pi OS "
            "image) for Imager's list" % imager.LIST_NAME)

    if rootfs:
        tarballs.tarballs(rootfs, out, say)

    for rel in written:
        if os.path.basename(rel) in schemas.FOR_FILE:
            schemas.check_file(os.path.join(out, rel))
    return written
