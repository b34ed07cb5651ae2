# The virtual board's accelerated clock (board.json "clock": N, from
# VirtualBoard(clock=N)): `time` as the firmware sees it, its ticks running N
# times as fast and its sleeps N times as short, so that minutes of firmware
# time (5 minutes without Wi-Fi before the portal, a soak of thousands of
# sampling cycles) pass in seconds. vboot puts it in sys.modules as `time`
# before anything imports `time`, and only when N > 1: a board at the normal
# pace runs the built-in. The wall clock (time(), gmtime(), localtime()) is
# left as it is: readings keep true timestamps. Socket timeouts are not
# scaled either (the host's TCP stack keeps them).
# The ticks stay in the built-in's range and wrap where it does:
# (t mod P) * N mod P = t * N mod P, with P the ticks period (2**62 on the
# 64-bit unix port, 2**30 on a board), so ticks_diff() and ticks_add() are
# the built-ins; t * N stays a small int (no heap) for years of uptime.
from utime import *  # noqa: F401,F403 (gmtime, localtime, mktime, time, ticks_add, ticks_diff...)
import utime
import vboard

_N = int(vboard.board.get("clock", 1))
_MASK = utime.ticks_add(0, -1)  # the period less one


def ticks_ms():
    return (utime.ticks_ms() * _N) & _MASK


def ticks_us():
    return (utime.ticks_us() * _N) & _MASK


def ticks_cpu():
    return (utime.ticks_cpu() * _N) & _MASK


def sleep_ms(ms):
    utime.sleep_ms(ms // _N)


def sleep_us(us):
    utime.sleep_us(us // _N)


def sleep(s):
    utime.sleep_ms(int(s * 1000) // _N)
