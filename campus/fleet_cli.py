"""`neoc fleet simulate` (joined to provisioning's `fleet` group by neoc/cli.py)."""
import json
import sys

import click


@click.command()
@click.option("--light-devices", "light_devices", type=click.IntRange(0, 100000), default=300, show_default=True,
              help="Light devices: one asyncio process, the portable neocampus/ code over HTTP and MQTT.")
@click.option("--virtual-boards", "virtual_boards", type=click.IntRange(0, 32), default=0, show_default=True,
              help="Real-firmware virtual boards besides (each a MicroPython process: keep it small).")
@click.option("--boot-storm", is_flag=True, help="Power every device at the same instant (after a power cut); "
                                                 "otherwise they boot over --boot-spread seconds.")
@click.option("--boot-spread", type=click.FloatRange(0), default=5.0, show_default=True, metavar="SECONDS")
@click.option("--broker-outage", "outage", type=click.FloatRange(0), default=0, metavar="SECONDS",
              help="Stop the broker the collector reads (the campus's one, or the core when bridged) this long.")
@click.option("--outage-at", type=click.FloatRange(0), default=None, metavar="SECONDS",
              help="When the outage starts, from the first boot (default: a third into --duration).")
@click.option("--rate", type=click.FloatRange(0.001, 100), default=1.0, show_default=True,
              help="Readings per second per light device (1: a reading a minute compressed to a second).")
@click.option("--duration", type=click.FloatRange(1), default=60.0, show_default=True, metavar="SECONDS",
              help="How long devices make readings; then their outboxes drain and the counts are compared.")
@click.option("--topology", type=click.Choice(["flat", "bridged"]), default="flat", show_default=True,
              help="flat: one Mosquitto; bridged: one per building, bridged to a core the collector reads.")
@click.option("--buildings", type=click.IntRange(1, 50), default=3, show_default=True)
@click.option("--rooms", type=click.IntRange(1, 1000), default=10, show_default=True, help="Rooms per building.")
@click.option("--http-processes", type=click.IntRange(1, 64), default=1, show_default=True, metavar="N",
              help="The stub's neoc server --http-processes: N processes answer the handshakes (a boot "
                   "storm of thousands wants one per core).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (progress goes to stderr).")
def simulate(light_devices, virtual_boards, boot_storm, boot_spread, outage, outage_at, rate, duration, topology,
             buildings, rooms, http_processes, as_json):
    """Simulate a campus fleet against a fresh stub and real Mosquittos: handshakes,
    readings, faults; report what each device numbered against what was stored.

    Exits 0 when every device finished its handshake and no reading was lost, 1
    otherwise, 2 when the simulation could not be set up (the reason is said).
    Needs Mosquitto (apt-get install mosquitto)."""
    from campus.fleet import Simulation, summary
    from provisioning.mosquitto import find
    if find("mosquitto") is None:
        raise click.ClickException("Mosquitto is not installed: apt-get install mosquitto")

    def say(text):
        click.echo(text, err=as_json)
    sim = Simulation(light_devices, virtual_boards, boot_storm, outage, outage_at, rate, duration, topology,
                     buildings, rooms, say=say, boot_spread=boot_spread, http_processes=http_processes)
    try:
        try:
            sim.start()
        except Exception as e:
            click.echo("fleet simulate: set-up failed: %s" % e, err=True)
            sys.exit(2)
        report = sim.run()
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    finally:
        sim.stop()
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        for line in summary(report):
            click.echo(line)
    ok = (report["handshakes"] == light_devices and report["lost"] == 0 and not report["device_errors"]
          and report["boards_connected"] == virtual_boards)
    sys.exit(0 if ok else 1)
