"""SCD4x model: every command of the SCD4x datasheet's command table, with its
execution time (a command or read header during execution is NACKed).

Here, the commands a measuring driver sends: start_periodic_measurement 0x21B1 (a
sample every 5 s), start_low_power_periodic_measurement 0x21AC (every 30 s),
read_measurement 0xEC05 (empties the sample buffer; its read header is NACKed when
empty), get_data_ready_status 0xE4B8, stop_periodic_measurement 0x3F86 (500 ms),
get_serial_number 0x3682 and, SCD41 only (variant 0, an SCD40, NACKs them),
measure_single_shot 0x219D (5 s) and measure_single_shot_rht_only 0x2196 (50 ms, CO2 0).
While measuring periodically only read, data ready, stop and set/get_ambient_pressure
are allowed: the others are NACKed. After power_down every command is NACKed; wake_up
0x36F6 is not acknowledged either (as the datasheet says), and commands are taken
30 ms later. The settings, calibration, reset and self-test commands are in
drivers/sim/_scd4x_more.py, loaded at the first of them: a driver that only measures
never pays their heap. The 3.5.2 conversion is inverted (physics -> raw words).
"""
from drivers.sim.base import Model, words
from drivers.sim.bus import Nack

_PERIODIC_OK = (0xEC05, 0xE4B8, 0x3F86, 0xE000)


class SCD4XModel(Model):
    # Class-level defaults, instance attributes only once they differ: ten attributes
    # and the clock fill an instance's 11-slot table, a twelfth makes it 17 slots.
    variant = 1            # get_sensor_variant: 0 SCD40, 1 SCD41
    more = None            # _scd4x_more.State, made at the first of its commands
    measured = 0           # ms of measuring since power-up or reinit

    def __init__(self, co2=600, temperature=21.0, humidity=50.0, serial=0x1A2B3C4D5E6F, variant=1):
        self.co2 = co2
        self.temperature = temperature
        self.humidity = humidity
        self.serial = serial
        if variant != 1:
            self.variant = variant
        # ms between periodic samples; 0 idle; during a single shot minus its length
        # (-50: RH and T only).
        self.periodic = 0
        self.commands = []
        self._busy = 0         # end of the command executing; None: powered down
        self._out = None
        self._data = None      # the sample buffer
        self._due = None       # end of the measurement in progress

    def _sample(self, now):
        if self._due is not None and now >= self._due:
            e = self.periodic
            t = self.temperature
            rh = self.humidity
            co2 = 0 if e == -50 else int(round(self.co2))
            m = self.more
            if m is not None:
                # The temperature offset setting and a forced recalibration show.
                t, rh = m.reported(t, rh)
                if e != -50:
                    co2 += m.frc
            self._data = words((max(0, min(65535, co2)),
                                max(0, min(65535, int(round((t + 45) * 65535 / 175)))),
                                max(0, min(65535, int(round(rh * 65535 / 100))))))
            if e > 0:   # periodic mode keeps its grid; a single shot ends
                k = (now - self._due) // e + 1
                self._due += e * k
                self.measured += e * k
            else:
                self.measured -= e
                self._due = None
                self.periodic = 0

    def write(self, data):
        now = self.now()
        self._sample(now)
        if self._busy is None:
            if data[:2] == b"\x36\xf6":
                self._busy = now + 30
            raise Nack(19, "powered down")
        if now < self._busy or len(data) < 2:
            raise Nack(19, "busy")
        cmd = (data[0] << 8) | data[1]
        if self.periodic > 0 and cmd not in _PERIODIC_OK:
            raise Nack(5, "0x%04x not allowed during periodic measurement" % cmd)
        self.commands.append(cmd)
        if len(self.commands) > 8:  # recent history only: a long list needs one big block
            del self.commands[0]
        ms = 1
        if cmd == 0x21B1 or cmd == 0x21AC:
            self.periodic = 5000 if cmd == 0x21B1 else 30000
            self._due = now + self.periodic
            ms = 0
        elif cmd == 0x3F86:
            self.periodic = 0
            self._due = None
            ms = 500
        elif cmd == 0xEC05:
            self._out, self._data = self._data, None
        elif cmd == 0xE4B8:
            self._out = words((0x8006 if self._data else 0x8000,))
        elif cmd == 0x3682:
            s = self.serial
            self._out = words(((s >> 32) & 0xFFFF, (s >> 16) & 0xFFFF, s & 0xFFFF))
        elif self.variant and (cmd == 0x219D or cmd == 0x2196):
            self._data = None
            ms = 5000 if cmd == 0x219D else 50
            self.periodic = -ms
            self._due = now + ms
        else:
            from drivers.sim._scd4x_more import command
            ms, out = command(self, cmd, data)
            if out is not None:
                self._out = words((out,))
            if ms is None:
                self._busy = None
                return
        self._busy = now + ms

    def read(self, n):
        now = self.now()
        self._sample(now)
        out = self._out
        if out is None or self._busy is None or now < self._busy:
            raise Nack(19, "no data")
        self._out = None
        return out
