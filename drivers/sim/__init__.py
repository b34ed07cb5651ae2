"""Register-level chip simulators and a simulated I2C bus (portable)."""
from drivers.sim.bus import SimBus, Nack  # noqa: F401
