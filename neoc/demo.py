"""`neoc demo`: a small campus on one machine (campus/demo.py does the steps)."""
import sys

import click


@click.command()
@click.option("--boards", type=click.IntRange(0, 12), default=3, show_default=True,
              help="Virtual neOSensor boards: blank MicroPython VMs flashed with `neoc flash`.")
@click.option("--pis", type=click.IntRange(0, 8), default=2, show_default=True,
              help="Simulated Pi agents: the first a `display` showing a room (from 2 on), the others `sensors`.")
@click.option("--duration", type=click.FloatRange(1), default=None, metavar="SECONDS",
              help="Stop by itself this long after everything runs (default: until Ctrl-C).")
@click.option("--broker", type=click.Choice(["embedded", "mosquitto"]), default="embedded", show_default=True,
              help="The stub's broker: embedded (amqtt, nothing to install) or a Mosquitto it starts.")
@click.option("--open", "open_page", is_flag=True, help="Open the live page in the default browser.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Keep the stub's registry, the boards' flash and the agents' state here (default: a "
                   "temporary folder, removed at the end).")
@click.option("--heap", default=None, help="Heap of the virtual boards' VMs (default: neoc board's).")
def demo(boards, pis, duration, broker, open_page, data_dir, heap):
    """A small campus comes alive: a sensOCampus stub, BOARDS virtual neOSensors running
    the real firmware (flashed with `neoc flash`, as a user would), PIS simulated Pi
    agents, readings on the live page. Each step says what it did; a step that fails
    says which and why and stops the rest. On a terminal the readings are a table
    redrawn in place; otherwise one line per reading. Ctrl-C (or --duration) stops
    everything and prints a summary: devices booted, readings stored per device,
    missing (from seq), errors. Exits 1 when a step failed."""
    from campus.demo import Demo
    tty = sys.stdout.isatty()
    d = Demo(boards=boards, pis=pis, broker=broker, duration=duration, say=click.echo, tty=tty,
             data_dir=data_dir, open_page=open_page, heap=heap)
    sys.exit(d.run())
