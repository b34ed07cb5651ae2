"""`neoc release`: firmware releases for the boards' over-the-air update.

    neoc release build OUT --board esp32 [--deploy romfs] [--revision N]
    neoc release publish --from-tree --board esp32 [--revision N]   (or DIR)
    neoc release list

A release is what `neoc flash` would put on a board (config.json aside),
with its manifest; the stub serves it as <server>/images/<board>/neOSensor/
default.json and the files beside it. Boards check it at every boot and on
the `upgrade` order (firmware/neosensor/ota.py).
"""
import sys

import click

from provisioning.admin_cli import connection_options, emit
from toolchain.deploy import DEPLOYS
from toolchain.flashing import FlashError
from toolchain.mpy import CompileError
from toolchain.release import ARCH, ReleaseError, from_dir, from_tree, info, manifest, write

BOARDS = tuple(ARCH)
ARCHS = ("xtensa", "xtensawin", "x64", "x86", "armv6m", "armv7m", "rv32imc", "none")


def _files(folder, from_tree_, board, mode, arch, revision):
    if bool(folder) == bool(from_tree_):
        raise click.UsageError("give a release folder (DIR) or --from-tree, one of the two")
    try:
        if from_tree_:
            arch = ARCH[board] if arch is None else None if arch == "none" else arch
            click.echo("compiling the firmware (%s, %s, mpy-cross -march %s)..." % (board, mode, arch or "none"),
                       err=True)
            files = from_tree(mode, arch, revision)
        else:
            files = from_dir(folder)
            rev = info(files)["revision"]
            if revision is not None and revision != rev:
                raise click.UsageError("%s is revision %d (its firmware.json), not %d: a built release is "
                                       "stamped when it is built (neoc release build --revision)"
                                       % (folder, rev, revision))
        info(files)
    except (ReleaseError, FlashError, CompileError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    return files


def _release_options(f):
    f = click.option("--revision", type=click.IntRange(1, 999999), help="Stamp this revision (YYMMDD) into "
                     "the firmware (default: firmware/neosensor/app.py's).")(f)
    f = click.option("--arch", type=click.Choice(ARCHS), help="mpy-cross -march (default: the board type's: "
                     "esp8266 xtensa, esp32 xtensawin; none: portable bytecode, as the virtual board runs).")(f)
    f = click.option("--deploy", "mode", type=click.Choice(DEPLOYS), default="romfs", show_default=True,
                     help="romfs: the code as one ROMFS image; mpy: .mpy files.")(f)
    f = click.option("--board", type=click.Choice(BOARDS), required=True, help="Board type the release is for.")(f)
    return f


@click.group()
def release():
    """Firmware releases for the boards' over-the-air update."""


@release.command()
@click.argument("out", type=click.Path(file_okay=False))
@_release_options
def build(out, board, mode, arch, revision):
    """Build a release from this repository's firmware into OUT: the files as
    on a board's flash and default.json (what `publish OUT` sends)."""
    files = _files(None, True, board, mode, arch, revision)
    write(out, files)
    doc = manifest(files)
    click.echo("release %d (%s, %s): %d files, %d B in %s" % (doc["revision"], board, mode, len(files),
                                                            sum(len(d) for d in files.values()), out))


@release.command()
@click.argument("folder", metavar="[DIR]", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--from-tree", "from_tree_", is_flag=True, help="Build it from this repository's firmware.")
@_release_options
@connection_options
def publish(client, as_json, folder, from_tree_, board, mode, arch, revision):
    """Publish a release to the stub: DIR (a firmware tree, from `neoc
    release build` or a board's flash copied) or --from-tree. Every file is
    uploaded, then the manifest, which the stub checks against them before
    it becomes default.json: boards never see half a release."""
    files = _files(folder, from_tree_, board, mode, arch, revision)
    doc = manifest(files)
    total = sum(len(d) for d in files.values())
    rev = doc["revision"]
    show = sys.stderr.isatty() and not as_json
    with click.progressbar(length=total, label="uploading release %d" % rev, file=sys.stderr,
                           show_pos=True) if show else _NoBar() as bar:
        for path, data in sorted(files.items()):
            stored = client.put_release_file(board, rev, path, data)
            if stored.get("size") != len(data):
                raise click.ClickException("%s: the stub stored %s B of %d" % (path, stored.get("size"), len(data)))
            bar.update(len(data))
            if not show and not as_json:
                click.echo("uploaded %s (%d B)" % (path, len(data)), err=True)
    published = client.publish_release(board, doc)
    if as_json:
        emit(published, True)
    else:
        click.echo("release %d published for %s: %d files, %d B; boards fetch %s/images/%s/neOSensor/default.json"
                   % (rev, board, len(files), total, client.url, board))


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass


@release.command("list")
@connection_options
def list_(client, as_json):
    """What the stub publishes per board type."""
    current = client.releases()
    rows = [dict(board=b, **v) for b, v in current.items()]
    emit(rows if not as_json else current, as_json,
         [("BOARD", "board"), ("REVISION", lambda r: r["revision"] or "-"), ("DEPLOY", lambda r: r["deploy"] or "-"),
          ("FILES", "files"), ("BYTES", "bytes"), ("STORED", lambda r: ",".join(map(str, r["revisions"])) or "-")])
