"""`neoc demo`: the whole chain on one machine. A sensOCampus stub with its
embedded broker, a registered demo device, and a virtual neOSensor board
(MCP9808 + SHT3x + TSL2561 whose values drift like a real room) that boots,
does the handshake and publishes; readings are printed as they land in the
stub's /api/readings. Ctrl-C stops everything."""
import time

import click

MAC = "02:de:a0:00:00:01"
LOCATION = "demo/lab"
MODULES = [{"module": "temperature", "frequency": 30}, {"module": "humidity", "frequency": 30},
           {"module": "luminosity", "frequency": 15}]
CHIPS = ["mcp9808@0x18:temperature=19..24/600s",
         "sht3x@0x44:temperature=19.5..23.5/600s,humidity=40..55/900s",
         "tsl2561@0x39:lux=150..800/1800s"]


@click.command()
@click.option("--duration", type=float, metavar="SECONDS", help="Stop by itself after this long.")
@click.option("--broker", type=click.Choice(["embedded", "mosquitto"]), default="embedded", show_default=True,
              help="The stub's broker.")
@click.option("--heap", default=None, help="Heap of the virtual board's VM (default: neoc board's).")
@click.option("--console", is_flag=True, help="Also show the board's serial console.")
def demo(duration, broker, heap, console):
    """Closed-loop demo: server stub, broker and a virtual neOSensor board."""
    from provisioning.stub_process import StubServer
    from virtual_board import DEFAULT_HEAP, VirtualBoard

    stub = StubServer(broker=broker)
    board = None
    try:
        stub.start()
        stub.admin.add_device(MAC, location=LOCATION, modules=MODULES)
        click.echo("sensOCampus stub on %s, broker on %s:%d" % (stub.url, stub.mqtt_host, stub.mqtt_port))
        click.echo("device %s registered in %s; live page: %s/" % (MAC, LOCATION, stub.url))
        # No broker on the board: it takes the one the stub advertises in its credentials
        # answer, as a real neOSensor pointed at the stub does.
        board = VirtualBoard(MAC, server=stub.url, wifi=("neocampus-demo", "demo-pass"), chips=CHIPS,
                             heap=heap or DEFAULT_HEAP, echo=click.echo if console else False)
        board.start()
        click.echo("virtual board booting (flash in %s)" % board.flash)
        _follow(stub, board, duration)
    except KeyboardInterrupt:
        click.echo("\nstopping")
    finally:
        if board is not None:
            board.stop()
        stub.stop()
    click.echo("demo stopped")


def _follow(stub, board, duration):
    start = time.monotonic()
    last = None
    shown = 0
    while duration is None or time.monotonic() - start < duration:
        if not board.echo:  # the milestones of the console, when it is not shown whole
            for line in board.lines[shown:]:
                if line.startswith(("mqtt:", "sensocampus:", "wifi:", "i2c:", "neosensor:", "---")):
                    click.echo("board: " + line)
            shown = len(board.lines)
        try:
            rows = stub.admin.readings(topic=LOCATION, after=last)
        except Exception as e:  # the stub restarting or busy: say it, keep going
            click.echo("readings: %s" % e)
            rows = []
        for r in rows:
            last = max(last or 0, r["id"])
            click.echo("%s  %-11s %-9s subID %-3s %8s %-7s seq %s" % (
                time.strftime("%H:%M:%S", time.localtime(r["received_at"])), r["module"], r["unitID"],
                r["subID"], r["value"], r["value_units"], r.get("seq")))
        time.sleep(1.0)

