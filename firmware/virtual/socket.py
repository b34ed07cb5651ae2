# Fake `socket` for the virtual board: the unix port's own sockets, cut off
# while the virtual radio is down or failing, as on a board whose access
# point went away: no name resolution nor new connection, and the sockets
# open when the radio is found down are shut, so their sends and receives
# fail. Found down at each radio query (network's status, getaddrinfo): the
# firmware's Wi-Fi check asks every 2 s, as a board's TCP stack notices a
# lost link late too. The board's own port 80 is a loopback port the runner
# chose (board.json "portal").
from usocket import *  # noqa: F401,F403
import usocket
import vboard

_open = [None, None, None, None]  # the last sockets opened: MQTT, HTTP, and spares
_n = 0


def radio_ok():
    if vboard.request(vboard.RADIO, reply=1)[0] & 3:
        for s in _open:
            if s is not None:
                s.close()
        return False
    return True


def getaddrinfo(host, port, *args):
    if host == "0.0.0.0" and port == 80:
        # The board's own web server (the set-up portal, on its access point):
        # the runner's loopback port for it.
        return usocket.getaddrinfo("127.0.0.1", vboard.board["portal"], *args)
    if not radio_ok():
        raise OSError(-2)  # what lwIP's resolver gives with no network
    return usocket.getaddrinfo(host, port, *args)


def socket(*args):
    global _n
    s = usocket.socket(*args)
    _open[_n & 3] = s
    _n += 1
    return s
