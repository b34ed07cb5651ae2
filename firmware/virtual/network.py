# Fake `network` for the virtual board: WLAN STA and AP interfaces. The
# station MAC and the networks in range (with their keys) come from
# board.json; the radio's state ("ok", "fail": connect never succeeds,
# "down": the link drops) is asked from the runner.
import socket
import time
import vboard

STA_IF = 0
AP_IF = 1
STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_WRONG_PASSWORD = 2
STAT_NO_AP_FOUND = 3
STAT_CONNECT_FAIL = 4
STAT_GOT_IP = 5


def WLAN(interface=STA_IF):
    # One static object per interface, as on the boards (made at import,
    # before vboot trims the heap: no heap taken afterwards).
    return _ifs[interface]


class _WLAN:
    def __init__(self, interface):
        self._if = interface
        self._on = False
        self._st = STAT_IDLE
        self._ssid = "neOSensor_" + vboard.board["mac"][-5:].replace(":", "") if interface else None
        self._t = 0

    def active(self, on=None):
        if on is None:
            return self._on
        self._on = bool(on)

    def connect(self, ssid=None, key=None, *, bssid=None):
        nets = vboard.board.get("wifi", {})
        self._ssid = ssid
        self._t = time.ticks_ms()
        self._st = (STAT_NO_AP_FOUND if ssid not in nets else
                    STAT_WRONG_PASSWORD if nets[ssid] != (key or "") else STAT_CONNECTING)

    def disconnect(self):
        self._st = STAT_IDLE

    def status(self, param=None):
        if self._if:
            return STAT_GOT_IP if self._on else STAT_IDLE
        if self._st in (STAT_CONNECTING, STAT_GOT_IP):
            radio = 0 if socket.radio_ok() else 1  # down or failing: the open sockets are cut too
            late = time.ticks_diff(time.ticks_ms(), self._t)
            if self._st == STAT_GOT_IP:
                if radio:
                    self._st = STAT_IDLE
            elif radio == 0 and late >= 300:
                self._st = STAT_GOT_IP
            elif radio and late > 3000:
                self._st = STAT_CONNECT_FAIL
        return self._st

    def scan(self):
        # The networks in range (board.json "wifi"), as the ports give them:
        # (ssid, bssid, channel, RSSI, security, hidden). The radio's state is
        # not asked: that would cut the sockets open, the portal's among them.
        return [(ssid.encode(), b"\x02\x00\x00\x00\x00%c" % i, 1 + i % 11, -50 - 5 * i, 3 if key else 0, 0)
                for i, (ssid, key) in enumerate(vboard.board.get("wifi", {}).items())]

    def isconnected(self):
        return self.status() == STAT_GOT_IP

    def ifconfig(self, cfg=None):
        if self._if:
            return ("192.168.4.1", "255.255.255.0", "192.168.4.1", "192.168.4.1")
        ip = "127.0.0.1" if self.isconnected() else "0.0.0.0"
        return (ip, "255.0.0.0", ip, ip)

    def config(self, *args, **kwargs):
        if kwargs:
            self._ssid = kwargs.get("essid", kwargs.get("ssid", self._ssid))
        elif args[0] == "mac":
            mac = bytearray(int(x, 16) for x in vboard.board["mac"].split(":"))
            mac[0] |= self._if << 1  # as on ESP chips, the AP MAC differs
            return bytes(mac)
        else:
            return self._ssid


_ifs = [_WLAN(STA_IF), _WLAN(AP_IF)]
