# The rarely used part of the fake `machine`, loaded on first use.
import time
import vboard


def soft_reset():
    vboard.power(b"soft 0")


def lightsleep(ms=0):
    time.sleep_ms(ms)


def idle():
    time.sleep_ms(1)


def freq(hz=None):
    return 80000000 if vboard.board.get("board") == "esp8266" else 160000000


def unique_id():
    return bytes(int(x, 16) for x in vboard.board["mac"].split(":"))


class RTC:
    def __init__(self, id=0):
        pass

    def datetime(self, dt=None):
        if dt is None:
            t = time.localtime()
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)

    def memory(self, data=None):
        # Survives resets and deepsleep: the runner keeps it across boots.
        if data is None:
            return bytes.fromhex(vboard.board.get("rtc_memory", ""))
        vboard.board["rtc_memory"] = bytes(data).hex()
        vboard.event("rtcmem " + vboard.board["rtc_memory"])
