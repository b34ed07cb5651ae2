# Fake `ntptime`: the unix port's clock already is the host's (NTP-synced)
# clock, so settime() only has to fail like the real one when the runner says
# the network (or the NTP server) is unreachable.
import time as _time
import vboard

host = "pool.ntp.org"
timeout = 1


def time():
    if vboard.radio():
        raise OSError(110)  # ETIMEDOUT, what the real one raises
    return _time.time()


def settime():
    time()
