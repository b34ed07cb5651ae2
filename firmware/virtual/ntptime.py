# Fake `ntptime`: the unix port's clock already is the host's (NTP-synced)
# clock; settime() only fails, like the real one, when the runner says the
# network (or the NTP server) is unreachable.
import vboard


def settime():
    if vboard.request(vboard.RADIO, reply=1)[0]:  # radio not ok, or bit 3: NTP unreachable
        raise OSError(110)  # ETIMEDOUT, what the real one raises
