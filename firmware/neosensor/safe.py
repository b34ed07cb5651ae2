# Safe mode: the board stops running the app and offers its set-up access
# point and the REPL, so that it can be reconfigured or reflashed instead of
# crash-looping.
import network


def run():
    mac = network.WLAN(network.STA_IF).config("mac")
    ap = network.WLAN(network.AP_IF)
    ap.active(True)
    ap.config(essid="neOSensor_%02x%02x" % (mac[4], mac[5]))
    print("safe mode: access point %s at %s, REPL on the console" % (ap.config("essid"), ap.ifconfig()[0]))
