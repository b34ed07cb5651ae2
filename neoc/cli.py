"""`neoc`: one entry point, subcommands loaded on demand.

Each subcommand lives beside the code it drives (the server stub in
provisioning/, the agent in rpi_agent/, ...) and is imported only when it is
run, so `neoc --help` stays fast and a Pi without the test extras still gets a
working `neoc agent`.
"""
import importlib
import importlib.util

import click

# name -> (module, attribute, one-line help shown by `neoc --help`)
SUBCOMMANDS = {
    "demo": ("neoc.demo", "demo", "A small campus: stub, virtual boards flashed with neoc flash, simulated Pis."),
    "server": ("provisioning.server_cli", "server", "Run the sensOCampus server stub (registry, broker auth, collector, live page)."),
    "device": ("provisioning.admin_cli", "device", "Register and manage devices on a sensOCampus stub."),
    "readings": ("provisioning.admin_cli", "readings", "Show (or follow) readings stored by the collector."),
    "board": ("virtual_board.cli", "board", "Run a virtual neOSensor board on the MicroPython unix port."),
    "flash": ("provisioning.flash", "flash", "Deploy the firmware to a board with mpremote."),
    "release": ("provisioning.release_cli", "release", "Build firmware releases and publish them for the boards' update."),
    "fleet": ("provisioning.fleet", "fleet", "Register boards from a CSV file, see their status, simulate a fleet."),
    "agent": ("rpi_agent.cli", "agent", "Run the Raspberry Pi agent."),
    "image": ("noobs_image.cli", "image", "Build NOOBS/PINN cards, Imager lists and first-boot files."),
}


# Commands a group gets from a package it may not import itself: `neoc board
# info` and `neoc board scan` talk to any board over mpremote (provisioning/), while the `board`
# group runs virtual boards (virtual_board/, below provisioning/ in the layers).
JOINED = {"board": {"info": ("provisioning.flash", "info"), "scan": ("provisioning.board_scan", "scan")},
          # The fleet simulation drives stub, brokers and devices together (campus/, above them all).
          "fleet": {"simulate": ("campus.fleet_cli", "simulate")}}


def _available(name):
    module = SUBCOMMANDS[name][0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return [name for name in SUBCOMMANDS if _available(name)]

    def get_command(self, ctx, name):
        if name not in SUBCOMMANDS or not _available(name):
            return None
        module, attr, _ = SUBCOMMANDS[name]
        group = getattr(importlib.import_module(module), attr)
        for sub, (module, attr) in JOINED.get(name, {}).items():
            if sub not in group.commands:
                group.add_command(getattr(importlib.import_module(module), attr), sub)
        return group

    def format_commands(self, ctx, formatter):
        rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="neocampus-devkit", prog_name="neoc")
def main():
    """Tools for neOCampus devices: the sensOCampus server stub, virtual and real
    neOSensor boards, flashing, the Raspberry Pi agent and Pi install images.

    Run `neoc COMMAND --help` for the options of each command.
    """


if __name__ == "__main__":
    main()
