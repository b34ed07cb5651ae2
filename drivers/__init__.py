"""Portable I2C sensor drivers (MicroPython and CPython).

Every driver error -- NACK, bus timeout, CRC mismatch, out-of-range raw value,
wrong identity, a chip that stops answering -- raises SensorError, so a device
loop needs one except clause and never gets a made-up number. Messages read
"<CHIP>@0x<addr>: <what happened, what was read>" (drivers.bus.I2CDevice.error).
"""


class SensorError(Exception):
    pass
