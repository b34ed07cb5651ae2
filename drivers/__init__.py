"""Portable I2C sensor drivers (MicroPython and CPython).

Every driver error -- NACK, bus timeout, CRC mismatch, out-of-range raw value,
wrong identity, a chip that stops answering -- raises SensorError, so a device
loop needs one except clause and never gets a made-up number.
"""


class SensorError(Exception):
    """Message form: "<CHIP>@0x<addr>: <what happened, what was read>"."""


def fail(chip, address, what):
    # One place builds the message so every driver names chip and address alike.
    return SensorError("%s@0x%02x: %s" % (chip, address, what))
