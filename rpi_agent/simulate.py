"""--simulate: the world around a simulated Pi. The chips drift slowly (a
room warming and cooling, clouds over the window) so readings look real and
the publishing policy has something to do; the concentrator gets a fake
serial board and a Modbus device, each on a socat pty pair, when its config
names none."""
import math
import threading
import time


class World:
    def __init__(self, hw, period=1.0):
        self.hw = hw
        self.period = period
        self._stop = threading.Event()
        self.parts = []
        self._base = {a: {k: getattr(m, k) for k in ("temperature", "humidity", "lux") if hasattr(m, k)}
                      for a, m in hw.models.items()}
        self._thread = threading.Thread(target=self._run, name="sim-world", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        t0 = time.monotonic()
        while not self._stop.wait(self.period):
            t = time.monotonic() - t0
            for addr, base in self._base.items():
                m = self.hw.models[addr]
                for k, v in base.items():
                    swing = {"temperature": 0.6, "humidity": 3.0, "lux": 0.25 * v}[k]
                    setattr(m, k, v + swing * math.sin(2 * math.pi * t / 600.0))

    def stop(self):
        self._stop.set()
        for p in self.parts:
            p.stop()


def start(cfg, hw):
    world = World(hw).start()
    if "concentrator" in cfg["agent"]["roles"]:
        c = cfg["concentrator"]
        if not c["serial"] and not c["modbus"]:
            from rpi_agent import fakes
            world.parts += fakes.simulated_concentrator(c, cfg["agent"]["state_dir"])
    return world
