# Join one of the configured Wi-Fi networks, with a timeout.
import time
import network

sta = network.WLAN(network.STA_IF)


def connect(networks, timeout_ms=20000, feed=None):
    """True once connected to one of [{"ssid", "password"}, ...]."""
    sta.active(True)
    if sta.isconnected():
        return True
    for net in networks or ():
        sta.connect(net.get("ssid"), net.get("password", ""))
        t0 = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), t0) < timeout_ms:
            if sta.isconnected():
                print("wifi: connected to %s, ip %s" % (net.get("ssid"), sta.ifconfig()[0]))
                return True
            if sta.status() in (network.STAT_WRONG_PASSWORD, network.STAT_NO_AP_FOUND,
                                network.STAT_CONNECT_FAIL):
                break
            if feed:
                feed()
            time.sleep_ms(100)
        print("wifi: cannot join %s (status %d)" % (net.get("ssid"), sta.status()))
    return False


def connected():
    return sta.isconnected()
