"""What the agent runs on: the I2C bus seen through smbus2 and through
Blinka's busio, and gpiozero's pin factory. `real()` opens the Pi's;
`simulated()` gives drivers.sim chips on one SimBus (which speaks both bus
APIs) and gpiozero's MockFactory, so --simulate goes through the same code
paths as a Pi."""
import os


class HardwareError(RuntimeError):
    pass


class Hardware:
    def __init__(self, smbus, busio, pin_factory, models=None, simulated=False):
        self.smbus = smbus          # smbus2.SMBus-like: our drivers (drivers/_smbus.py)
        self.busio = busio          # busio.I2C-like: the Adafruit drivers; None: not available
        self.pin_factory = pin_factory
        self.models = models or {}  # address -> chip model (simulation only)
        self.simulated = simulated

    def board(self):
        if self.simulated:
            return "simulated"
        try:
            with open("/proc/device-tree/model") as f:
                return f.read().strip("\0\n ")
        except OSError:
            return "unknown"


def _blinka_env():
    # Blinka detects the board at import; off a Pi, say what it is rather
    # than let it guess (it refuses unknown boards).
    os.environ.setdefault("BLINKA_FORCEBOARD", "GENERIC_LINUX_PC")
    os.environ.setdefault("BLINKA_FORCECHIP", "GENERIC_X86")


def real(bus=1, need_i2c=True):
    dev = "/dev/i2c-%d" % bus
    smbus = busio = None
    if need_i2c:
        if not os.path.exists(dev):
            raise HardwareError("sensors.bus: %s does not exist (enable I2C: raspi-config nonint do_i2c 0, "
                                "or dtparam=i2c_arm=on in config.txt, then reboot)" % dev)
        from smbus2 import SMBus
        try:
            smbus = SMBus(bus)
        except OSError as e:
            raise HardwareError("sensors.bus: cannot open %s: %s" % (dev, e.strerror))
        if bus == 1:  # Blinka's board.I2C() is the header's bus 1
            try:
                import board
                busio = board.I2C()
            except Exception as e:  # not a board Blinka knows: our drivers serve every chip
                busio = None
                import logging
                logging.getLogger("rpi_agent.hardware").warning(
                    "Blinka's I2C unavailable (%s): TSL2591/BME280 read through drivers/", e)
    factory = None
    try:
        from gpiozero import Device
        factory = Device._default_pin_factory()
    except Exception:
        factory = None  # no GPIO here (a concentrator on a PC): inputs and outputs refused at set-up
    return Hardware(smbus, busio, factory)


def simulated(chips=None):
    """SimBus with the chips {address: model} (default: TSL2591 0x29, BME280 0x77,
    MCP9808 0x18) and a MockFactory."""
    _blinka_env()
    from gpiozero.pins.mock import MockFactory
    from drivers.sim import SimBus
    if chips is None:
        from drivers.sim.bme280 import BME280Model
        from drivers.sim.mcp9808 import MCP9808Model
        from drivers.sim.tsl2591 import TSL2591Model
        chips = {0x29: TSL2591Model(lux=320.0), 0x77: BME280Model(temperature=21.5, humidity=44.0),
                 0x18: MCP9808Model(temperature=21.25)}
    bus = SimBus()
    for addr, model in chips.items():
        bus.attach(addr, model)
    return Hardware(bus, bus, MockFactory(), dict(chips), simulated=True)
