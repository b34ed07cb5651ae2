"""`neoc server`: run the sensOCampus stub until SIGINT/SIGTERM."""
import asyncio
import logging
import signal

import click

from provisioning.eventloop import run


def host_port(value, default_host="127.0.0.1"):
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = default_host, value
    try:
        port = int(port)
    except ValueError:
        raise click.BadParameter("expected HOST:PORT, got %r" % value) from None
    if not 0 <= port < 65536:
        raise click.BadParameter("port out of range in %r" % value)
    return host or default_host, port


def advertised_host_port(value, default_port):
    """HOST:PORT, HOST, [V6]:PORT or [V6] -> (host, port); PORT defaults to the listener's."""
    value = value.strip()
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or rest and not rest.startswith(":"):
            raise click.BadParameter("expected HOST:PORT or [IPV6]:PORT, got %r" % value,
                                     param_hint="--advertise-broker")
        port = rest[1:]
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:  # a bare host name, or a bare IPv6 address
        host, port = value, ""
    if not port:
        return host, default_port
    try:
        return host, int(port)
    except ValueError:
        raise click.BadParameter("expected HOST:PORT, got %r" % value, param_hint="--advertise-broker") from None


@click.command()
@click.option("--data-dir", default="./neoc-data", show_default=True, type=click.Path(file_okay=False),
              help="Registry database, admin token, broker files.")
@click.option("--http", "http", default="127.0.0.1:8000", show_default=True, help="HOST:PORT of the registry API and live page.")
@click.option("--mqtt", "mqtt", default="127.0.0.1:1883", show_default=True,
              help="HOST:PORT of the broker (served by the stub unless --broker external).")
@click.option("--broker", type=click.Choice(["embedded", "mosquitto", "external"]), default="embedded",
              show_default=True, help="embedded amqtt, a Mosquitto started by the stub, or an existing broker "
                                      "(files written into DATA_DIR/mosquitto for it).")
@click.option("--admin-token", envvar="NEOC_ADMIN_TOKEN", default=None,
              help="Bearer token of the admin API; generated into DATA_DIR/admin-token when absent.")
@click.option("--advertise-broker", "advertise", metavar="HOST[:PORT]", default=None,
              help="The broker devices are sent in their credentials answer (`server`, `port`) unless "
                   "registered with one of their own (neoc device add --mqtt-server/--mqtt-port). "
                   "Default: the --mqtt address, also with --broker external; when that listens on "
                   "0.0.0.0 or ::, this machine's hostname with the --mqtt port. PORT defaults to the "
                   "--mqtt port.")
@click.option("--no-advertise-broker", "no_advertise", is_flag=True,
              help="Send devices no broker: they use their own setting, else the campus broker (a stub "
                   "standing in front of the campus broker).")
@click.option("--public-page", is_flag=True,
              help="Show the live page to anyone who reaches the stub (default: it needs the viewer token "
                   "of DATA_DIR/viewer-token, or the admin token).")
@click.option("--claim-window", default="1h", show_default=True, metavar="DURATION",
              help="A registered or reset device gets its password only from a first credentials call "
                   "within this time (90s, 15m, 1h, 2d; 0 for no limit); neoc device add --claim-window "
                   "sets it per device.")
@click.option("--max-connections-per-address", "per_address", type=click.IntRange(1, 100000), default=256,
              show_default=True, help="Open HTTP connections one client address may hold (a boot storm "
                                      "through one NAT or a load test may need more).")
@click.option("--tls-cert", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="PEM certificate (then its chain): serve --http over HTTPS. Needs --tls-key.")
@click.option("--tls-key", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="PEM private key of --tls-cert.")
@click.option("--http-processes", type=click.IntRange(1, 64), default=1, show_default=True, metavar="N",
              help="Processes answering --http: this one and N-1 workers on the same port, which answer "
                   "the handshake themselves and pass every other request to this one. A boot storm of "
                   "hundreds of devices is HTTP work: up to one per core (bench/fleet.py).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def server(data_dir, http, mqtt, broker, admin_token, advertise, no_advertise, public_page, claim_window,
           per_address, tls_cert, tls_key, http_processes, verbose):
    """Run the sensOCampus server stub: registry API, broker credentials and ACLs, collector, live page."""
    from provisioning.server import LISTENER, Stub, check_broker_address, serve

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)
    mqtt = host_port(mqtt)
    if advertise is not None and no_advertise:
        raise click.UsageError("--advertise-broker and --no-advertise-broker exclude each other")
    advertised = None if no_advertise else LISTENER
    if advertise is not None:
        try:
            advertised = check_broker_address(advertised_host_port(advertise, mqtt[1]))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--advertise-broker") from None
    from provisioning.durations import parse_duration
    try:
        window = parse_duration(claim_window)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--claim-window") from None
    tls = None
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if tls_cert:
        from provisioning.tls import TLSFileError, server_context
        try:
            tls = server_context(tls_cert, tls_key)
        except TLSFileError as exc:
            raise click.BadParameter(str(exc), param_hint="--tls-cert/--tls-key") from None
    stub = Stub(data_dir, http=host_port(http), mqtt=mqtt, broker=broker, token=admin_token,
                advertise=advertised, public_page=public_page, claim_window=window,
                max_connections_per_address=per_address, tls=tls, http_processes=http_processes,
                tls_files=(tls_cert, tls_key) if tls_cert else None)

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(stub, stop)

    try:
        run(main())
    except (OSError, RuntimeError) as exc:  # port in use, Mosquitto or amqtt missing or failing
        raise click.ClickException(str(exc)) from None
