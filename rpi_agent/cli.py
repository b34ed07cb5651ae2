"""`neoc agent` (also `python -m rpi_agent`): run the agent, install it, scan the bus."""
import logging
import os
import signal
import sys
import threading

import click

from rpi_agent import config as config_mod


def _logging(level):
    # stdout, no time stamp: journald stamps every line itself.
    h = logging.StreamHandler(sys.stdout)
    h.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [h]
    root.setLevel(level.upper())


def load_config(path, simulate, server, mac, roles, state_dir, metrics=None):
    overrides = {"agent.server": server, "agent.mac": mac, "agent.roles": list(roles) or None}
    if state_dir:
        overrides.update({"agent.state_dir": state_dir,
                          "agent.credentials": os.path.join(state_dir, "credentials.json"),
                          "outbox.path": os.path.join(state_dir, "outbox.sqlite")})
    if metrics is not None:
        overrides["metrics.listen"] = metrics
    if path is None and os.path.exists(config_mod.DEFAULT_CONFIG) and not simulate:
        path = config_mod.DEFAULT_CONFIG
    try:
        return config_mod.load(path, simulate, overrides)
    except config_mod.ConfigError as e:
        raise click.ClickException(str(e))


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML config (default %s when it exists)." % config_mod.DEFAULT_CONFIG)
@click.option("--simulate", is_flag=True, help="Simulated chips, pins, serial board and Modbus device (a laptop).")
@click.option("--server", help="sensOCampus URL (overrides agent.server).")
@click.option("--mac", help="This device's MAC (default: eth0, then wlan0).")
@click.option("--role", "roles", multiple=True, type=click.Choice(config_mod.ROLES),
              help="Role to hold (repeatable; overrides agent.roles).")
@click.option("--state-dir", help="Where credentials and the outbox live (default /var/lib/neocampus).")
@click.option("--metrics", help='/metrics listener "HOST:PORT", "" for none (overrides metrics.listen).')
@click.pass_context
def agent(ctx, config_path, simulate, server, mac, roles, state_dir, metrics):
    """Run the Raspberry Pi agent: sensOCampus handshake, then readings of its
    roles (sensors, display, concentrator) over MQTT through an on-disk outbox."""
    ctx.obj = {"config": config_path, "simulate": simulate, "server": server, "mac": mac, "roles": roles,
               "state_dir": state_dir}
    if ctx.invoked_subcommand is not None:
        return
    cfg = load_config(config_path, simulate, server, mac, roles, state_dir, metrics)
    _logging(cfg["agent"]["log_level"])
    for note in config_mod.notes(cfg, simulate):
        logging.getLogger("rpi_agent").warning("%s", note)
    sys.exit(run(cfg, simulate))


def run(cfg, simulate):
    from rpi_agent import agent as agent_mod
    from rpi_agent import hardware
    log = logging.getLogger("rpi_agent")
    stop = threading.Event()
    running = []

    def on_signal(signum, frame):
        log.info("signal %d: stopping", signum)
        stop.set()
        for a in running:
            a.wake.set()  # a pipe write: safe in a handler, and the loop stops now, not within 1 s

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sim = None
    try:
        if simulate:
            from rpi_agent import simulate as sim_mod
            hw = hardware.simulated()
            sim = sim_mod.start(cfg, hw)
        else:
            hw = hardware.real(cfg["sensors"]["bus"], need_i2c="sensors" in cfg["agent"]["roles"])
    except (hardware.HardwareError, RuntimeError, ValueError) as e:
        raise click.ClickException(str(e))
    a = agent_mod.Agent(cfg, hw)
    running.append(a)
    try:
        if not a.setup(stop.is_set):
            return 0
        order = a.run(stop)
    except (RuntimeError, ValueError, OSError) as e:
        # Set-up problems a person must fix (a GPIO taken, the state dir not writable).
        raise click.ClickException(str(e))
    finally:
        if sim is not None:
            sim.stop()
    if order:
        return agent_mod.carry_out(order, simulate) or 0
    return 0


@agent.command()
@click.option("--watch", is_flag=True, help="Refresh every second (in place on a terminal) until Ctrl-C: "
              "breathe on a sensor and see its value move.")
@click.option("--count", type=click.IntRange(min=1), metavar="N", help="Refresh N times, then stop (implies --watch).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per refresh (rows, problems, the raw facts).")
@click.pass_obj
def scan(obj, watch, count, as_json):
    """Is it wired right? What answers on this Pi's I2C bus, what each chip
    is (identified as the firmware does), one reading of each with its
    units, and every problem in plain words with its likely cause. Exit
    status 1 when a problem was found."""
    from drivers.wiring.show import show
    from rpi_agent import hardware, scan as scan_mod
    cfg = load_config(obj["config"], obj["simulate"], obj["server"], obj["mac"], obj["roles"], obj["state_dir"])
    try:
        hw = hardware.simulated() if obj["simulate"] else hardware.real(cfg["sensors"]["bus"])
    except hardware.HardwareError as e:
        raise click.ClickException(str(e))
    last = show(scan_mod.Scanner(hw, cfg["sensors"]["bus"]).sample, as_json, watch or count is not None, count)
    sys.exit(1 if last and last["problems"] else 0)


@agent.command()
@click.option("--role", "roles", multiple=True, type=click.Choice(config_mod.ROLES),
              help="Role (repeatable; default: --agent-config's agent.roles, else sensors).")
@click.option("--server", help="sensOCampus URL written into the config.")
@click.option("--mac", help="MAC written into the config (default: found at start).")
@click.option("--serial", "serial", multiple=True, metavar="PORT[:BAUD]",
              help="A concentrator's serial line (JSON lines), e.g. /dev/ttyUSB0:115200 (default 9600 baud); "
                   "repeatable. Written as [[concentrator.serial]].")
@click.option("--agent-config", "agent_config", type=click.Path(dir_okay=False), metavar="FILE",
              help="TOML fragment of agent.toml (Modbus devices, [mqtt], [display] rooms...) merged into the config "
                   "written; the options above win over its [agent] keys.")
@click.option("--root", default="/", type=click.Path(file_okay=False),
              help="Install under this directory instead of / (nothing is enabled or started then).")
@click.option("--dry-run", is_flag=True, help="Print what would be written and run; change nothing.")
@click.option("--no-start", is_flag=True, help="Write and enable, but do not start.")
@click.option("--user", "run_user", default="root", help="User the agent runs as.")
def install(roles, server, mac, serial, agent_config, root, dry_run, no_start, run_user):
    """Write the agent's config and systemd units, enable and start them (idempotent).

    The config is checked as the agent checks it at start: what is written
    starts. A concentrator given no line still starts, says so in its log
    and status (`lines` empty), and waits for one in agent.toml."""
    from rpi_agent import install as install_mod
    try:
        extra = config_mod.read(agent_config) if agent_config else None
        lines = [config_mod.serial_line(v) for v in serial]
        plan = install_mod.plan(roles, server, mac, root, run_user, extra, lines)
        for line in install_mod.apply(plan, root, dry_run, start=not no_start):
            click.echo(line)
    except (install_mod.InstallError, config_mod.ConfigError) as e:
        raise click.ClickException(str(e))
