# Fake `network` for the virtual board: WLAN STA and AP interfaces. The
# station MAC comes from board.json; the networks in range and their keys too.
# The runner tells the radio's state: "ok", "fail" (connect never
# succeeds) or "down" (an established link drops).
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
AUTH_OPEN = 0
AUTH_WPA_WPA2_PSK = 4

_CONNECT_MS = 300


def _mac_bytes(ap):
    mac = bytearray(int(x, 16) for x in vboard.board.get("mac", "02:00:00:00:00:01").split(":"))
    if ap:
        mac[0] |= 0x02  # as on ESP chips: the AP MAC differs from the STA one
    return bytes(mac)


class WLAN:
    _ifs = {}

    def __new__(cls, interface=STA_IF):
        # One object per interface, as on the boards.
        wlan = WLAN._ifs.get(interface)
        if wlan is None:
            wlan = object.__new__(cls)
            wlan._init(interface)
            WLAN._ifs[interface] = wlan
        return wlan

    def __init__(self, interface=STA_IF):
        pass

    def _init(self, interface):
        self._if = interface
        self._active = False
        self._status = STAT_IDLE
        self._ssid = None
        self._since = 0
        self._essid = "ESP_%02X%02X%02X" % tuple(_mac_bytes(True)[3:])
        self._password = ""

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        if not on:
            self._status = STAT_IDLE

    def connect(self, ssid=None, key=None, *, bssid=None):
        if not self._active:
            raise OSError("WLAN not active")
        nets = vboard.board.get("wifi", {})
        self._ssid = ssid
        self._since = time.ticks_ms()
        if ssid not in nets:
            self._status = STAT_NO_AP_FOUND
        elif nets[ssid] != (key or ""):
            self._status = STAT_WRONG_PASSWORD
        else:
            self._status = STAT_CONNECTING

    def disconnect(self):
        self._status = STAT_IDLE

    def status(self, param=None):
        if param == "rssi":
            return -55
        if self._if == AP_IF:
            return STAT_GOT_IP if self._active else STAT_IDLE
        state = ("ok", "fail", "down")[vboard.radio() & 3]
        if self._status == STAT_CONNECTING:
            if state == "fail":
                if time.ticks_diff(time.ticks_ms(), self._since) > 3000:
                    self._status = STAT_CONNECT_FAIL
            elif time.ticks_diff(time.ticks_ms(), self._since) >= _CONNECT_MS:
                self._status = STAT_GOT_IP
        elif self._status == STAT_GOT_IP and state != "ok":
            self._status = STAT_IDLE
        return self._status

    def isconnected(self):
        if self._if == AP_IF:
            return self._active
        return self.status() == STAT_GOT_IP

    def ifconfig(self, cfg=None):
        if cfg is not None:
            return None
        if self._if == AP_IF:
            return ("192.168.4.1", "255.255.255.0", "192.168.4.1", "192.168.4.1")
        if self.isconnected():
            return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")
        return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")

    def config(self, *args, **kwargs):
        if kwargs:
            if "essid" in kwargs or "ssid" in kwargs:
                self._essid = kwargs.get("essid", kwargs.get("ssid"))
            if "password" in kwargs or "key" in kwargs:
                self._password = kwargs.get("password", kwargs.get("key"))
            return None
        name = args[0]
        if name == "mac":
            return _mac_bytes(self._if == AP_IF)
        if name in ("essid", "ssid"):
            return self._essid if self._if == AP_IF else self._ssid
        if name == "hostname":
            return "neosensor"
        raise ValueError("unknown config param")

    def scan(self):
        return [(s.encode(), b"\x00" * 6, 6, -55, AUTH_WPA_WPA2_PSK, False)
                for s in vboard.board.get("wifi", {})]


def hostname(name=None):
    return "neosensor"
