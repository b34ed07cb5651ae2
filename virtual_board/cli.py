"""`neoc board run`: a virtual neOSensor board on the MicroPython unix port."""
import signal
import sys
import threading
import time

import click

from toolchain.deploy import DEPLOYS
from virtual_board import BOARDS, DEFAULT_HEAP, BoardError, VirtualBoard, parse_chip

CONTROL_HELP = """While it runs, type on stdin to act as the outside world:
  set ADDR QUANTITY=VALUE[,...]   e.g. `set 0x18 temperature=25` or `set 0x39 lux=100..900/60s`
  wifi ok|fail|down               the radio's state
  pin N 0|1                       an input pin's level
  wiring FAULT                    a wiring fault (see --wiring), `wiring ok` clears them
  quit                            stop the board
End of file on stdin (`< /dev/null`, nohup, a service) ends only this control loop:
the board runs on until SIGINT/SIGTERM/SIGHUP or --duration."""


@click.group()
def board():
    """Virtual neOSensor boards."""


def _split_pair(value, what, sep=":"):
    a, found, b = value.partition(sep)
    if not found or not a:
        raise click.BadParameter("%s: want %s" % (value, what))
    return a, b


@board.command(epilog="\b\n" + CONTROL_HELP)
@click.option("--mac", required=True, help="Station MAC of the board, e.g. aa:bb:cc:dd:ee:ff.")
@click.option("--server", metavar="URL", help="sensOCampus URL written to /config.json "
              "(e.g. http://127.0.0.1:8000; default: the campus server).")
@click.option("--wifi", metavar="SSID:PASS", default="neocampus:neocampus", show_default=True,
              help="The Wi-Fi network around the board (and in /config.json).")
@click.option("--broker", metavar="HOST:PORT", help="Broker override written to /config.json.")
@click.option("--flash-dir", type=click.Path(file_okay=False), help="Folder standing for the board's "
              "flash (default: a fresh temporary folder).")
@click.option("--chip", "chips", multiple=True, metavar="CHIP@ADDR[:Q=V,...]",
              help="A simulated I2C chip, e.g. mcp9808@0x18:temperature=21.5 or "
                   "tsl2561@0x39:lux=200..800/600s (a smooth drift LOW..HIGH over PERIOD). The noise "
                   "front end: mcp47x6@0x60:noise=0.7,pin=13 (microphone level as a fraction of the DAC's "
                   "reference; the comparator pulses GPIO `pin` while it is above the DAC's threshold). "
                   "Repeatable.")
@click.option("--heap", default=DEFAULT_HEAP, show_default=True,
              help="Heap the firmware gets. The default is the firmware's budget, 24 KB as a 32-bit "
                   "board counts it, turned into this 64-bit port's bytes by the ratio bench/heap32.py "
                   "measures (1.84: objects take nearly twice the room here). The VM's -X heapsize adds "
                   "the exact size of the buffers holding the ROM images (they stand for flash), so the "
                   "firmware has exactly this much; the runner prints both figures.")
@click.option("--repl", metavar="socket://HOST:PORT", help="Offer the serial console (REPL) over TCP, "
              "for `mpremote connect socket://HOST:PORT resume ...`.")
@click.option("--blank", is_flag=True, help="Leave the flash folder as it is (empty when new): "
              "no firmware, no /config.json; for the flashing tool.")
@click.option("--deploy", "deploy_mode", type=click.Choice(DEPLOYS), default="romfs", show_default=True,
              help="How the code goes on the flash. romfs: the app and its libraries as .mpy in one "
                   "ROMFS image (/romfs.img, as `mpremote romfs deploy` writes an ESP32's partition; "
                   "run in place: code costs only its function/class objects in the heap, close to "
                   "frozen bytecode on an ESP8266). mpy: .mpy files on the filesystem, loaded into the "
                   "heap on import (about 2.5x their size: needs a much larger --heap).")
@click.option("--source", is_flag=True, help="Deploy plain .py sources (compiled on the board at import: "
              "costs the most heap, several times --deploy mpy); overrides --deploy.")
@click.option("--sandbox", is_flag=True, help="Sandbox mode in /config.json (no sensOCampus).")
@click.option("--board", "kind", type=click.Choice(sorted(BOARDS)), default="esp8266", show_default=True,
              help="Board type (I2C pins: ESP8266 SDA=14/SCL=12, ESP32 21/22).")
@click.option("--wiring", multiple=True, metavar="FAULT", help="A wiring fault for `neoc board scan` to "
              "find: swapped (SDA and SCL exchanged), sda-low, scl-low (a line held low), no-pullup, "
              "loose@ADDR (a chip missing every other scan). Two chips on one address: give --chip twice "
              "with the same address. Repeatable.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop the board after this many seconds (default: run until SIGINT/SIGTERM).")
@click.option("--clock", type=click.IntRange(1, 1000), default=1, show_default=True, metavar="N",
              help="Run the firmware's clock N times as fast (its ticks and sleeps; timestamps stay true): "
                   "the 5 minutes without Wi-Fi before the set-up portal take 10 s with --clock 30.")
def run(mac, server, wifi, broker, flash_dir, chips, heap, repl, blank, deploy_mode, source, sandbox, kind,
        duration, wiring, clock):
    """Run a virtual board: the firmware (as deployed: .mpy, boot.py, main.py,
    /config.json) in the MicroPython unix port, with simulated chips, Wi-Fi,
    watchdog and resets. Its console is printed with a prefix. Ctrl-C stops it.

    The flash folder is the board's filesystem root. With --repl, Ctrl-C sent
    by mpremote stops the firmware and gives the REPL, but the watchdog the
    firmware armed keeps running and resets the board, as on a real one."""
    try:
        parsed = [parse_chip(c) for c in chips]
        ssid, password = _split_pair(wifi, "SSID:PASS")
        broker_pair = None
        if broker:
            host, port = _split_pair(broker, "HOST:PORT")
            broker_pair = (host, int(port))
        vb = VirtualBoard(mac, server=server, wifi=(ssid, password), chips=parsed, flash_dir=flash_dir,
                          heap=heap, repl=repl, blank=blank, source=source, board=kind,
                          broker=broker_pair, sandbox=sandbox, deploy=deploy_mode, wiring=wiring,
                          clock=clock)
    except (BoardError, ValueError) as e:
        raise click.UsageError(str(e))
    # Console lines reach a log file or journald as they come, not in 8 KB blocks.
    sys.stdout.reconfigure(line_buffering=True)
    stop = _Stop()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop.on_signal)
    vb.start()
    click.echo("board %s: flash %s%s" % (vb.mac, vb.flash, (", REPL on socket://%s:%d" % vb.repl)
                                          if vb.repl else ""), err=True)
    threading.Thread(target=_control, args=(vb, stop), daemon=True).start()
    deadline = time.monotonic() + duration if duration else None
    try:
        while not stop.event.wait(0.2):
            if deadline is not None and time.monotonic() >= deadline:
                stop.set("--duration %g s elapsed" % duration)
    except KeyboardInterrupt:
        stop.set("SIGINT (Ctrl-C)")
    finally:
        # The VM runs in a session of its own (its pty is its controlling tty), so
        # no signal to this process reaches it: every way out goes through stop().
        vb.stop(stop.reason or "runner error")


class _Stop:
    """Why the runner stops, set once by whichever comes first."""

    def __init__(self):
        self.event = threading.Event()
        self.reason = None

    def set(self, reason):
        if self.reason is None:
            self.reason = reason
        self.event.set()

    def on_signal(self, signum, frame):
        self.set(signal.Signals(signum).name)


def _control(vb, stop):
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == "quit":
                stop.set("quit typed on stdin")
                return
            if words[0] == "set" and len(words) == 3:
                _, _, values = parse_chip("mcp9808@0x18:" + words[2])
                vb.set(int(words[1], 0), **values)
            elif words[0] == "wifi" and len(words) == 2:
                vb.set_wifi(words[1])
            elif words[0] == "wiring" and len(words) == 2:
                vb.set_wiring(words[1])
            elif words[0] == "pin" and len(words) == 3:
                vb.set_pin(int(words[1]), int(words[2]))
            else:
                click.echo("? " + CONTROL_HELP, err=True)
        except (BoardError, ValueError) as e:
            click.echo("error: %s" % e, err=True)
    click.echo("board %s: stdin closed; control commands off, the board runs on" % vb.mac, err=True)
