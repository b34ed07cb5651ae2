# Fake `network` of the in-VM scenario (see fakes.py): a station that is
# always associated, with the scenario's MAC.
STA_IF = 0
AP_IF = 1
STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_WRONG_PASSWORD = 2
STAT_NO_AP_FOUND = 3
STAT_CONNECT_FAIL = 4
STAT_GOT_IP = 5

MAC = b"\xaa\xbb\xcc\x00\x5e\x11"
meter = None


class _WLAN:
    def __init__(self, interface):
        self._if = interface
        self._on = False

    def active(self, on=None):
        if on is None:
            return self._on
        self._on = bool(on)

    def connect(self, ssid=None, key=None, *, bssid=None):
        pass

    def disconnect(self):
        pass

    def status(self, param=None):
        return STAT_GOT_IP

    def isconnected(self):
        meter.sample("wlan")
        return True

    def ifconfig(self, cfg=None):
        return ("10.0.0.2", "255.255.255.0", "10.0.0.1", "10.0.0.1")

    def config(self, *args, **kwargs):
        if args and args[0] == "mac":
            return MAC
        return "neosensor"


_ifs = (_WLAN(STA_IF), _WLAN(AP_IF))


def WLAN(interface=STA_IF):
    # One static object per interface, as on the boards.
    return _ifs[interface]
