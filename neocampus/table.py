"""The sensOCampus modules, one row each (protocol document sections 3 and 4).

Everything the house knows about a module kind is here and only here: the
payloads take units and value format from it, the policy its frequency range,
the command parser its orders, the firmware's set-up which chip quantity feeds
it, the stub's registry its default frequency.

    row = MODULES["luminosity"]
    row[QUANTITY], row[UNITS], row[VALUE]   # "lux", "lux", "int"
    row[FREQ_MIN], row[FREQ_DEFAULT], row[FREQ_MAX]   # 15, 30, 1800 (seconds)
    row[ORDERS].split()                     # ["acquire", "status", "frequency"]

VALUE is how a reading's value is written: "float3" (three decimals), "int"
(rounded to an integer), "bool" (digital inputs), None for a module that
publishes no readings (device). airquality's row holds its CO2 sensor's facts
(ppm, an integer); its particle subIDs (pm2_5, pm10) are in µg/m3 with three
decimals (payload.reading).
"""
try:
    from micropython import const
except ImportError:
    const = int

QUANTITY = const(0)      # the driver quantity (a driver's QUANTITIES) feeding it; None: GPIO-fed or none
UNITS = const(1)         # its readings' value_units; None: none sent
VALUE = const(2)
FREQ_MIN = const(3)      # frequency range in seconds: min, default, max
FREQ_DEFAULT = const(4)
FREQ_MAX = const(5)
ORDERS = const(6)        # the orders it takes, space separated

MODULES = {
    "temperature": ("temperature", "celsius", "float3", 30, 60, 1800, "acquire status frequency"),
    "humidity": ("humidity", "%r.H.", "int", 30, 60, 1800, "acquire status frequency"),
    "luminosity": ("lux", "lux", "int", 15, 30, 1800, "acquire status frequency"),
    "airquality": ("co2", "ppm", "int", 30, 60, 1800, "acquire status frequency"),
    "noise": (None, "pulses", "int", 300, 2700, 3600, "sensitivity threshold acquire status frequency"),
    "digital": (None, None, "bool", 30, 60, 1800, "acquire status frequency"),
    "device": (None, None, None, 900, 1800, 21600, "status frequency restart reboot upgrade"),
}
# Every order some module takes (commands.parse without a module).
ALL_ORDERS = "sensitivity threshold acquire status frequency restart reboot upgrade"


def row(module):
    """The module's row; a module the table does not know (display, a new
    sensor) is taken as a sensor fed by nothing: digital's frequencies and orders."""
    return MODULES.get(module) or MODULES["digital"]
