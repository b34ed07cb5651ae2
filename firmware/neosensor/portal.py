# The set-up portal: the board's own access point (neOSensor_<last 4 hex of
# its MAC>) and one small web form at its address, where a student with a
# phone sets the Wi-Fi network, the sensOCampus URL and sandbox mode, or
# resets the board to its factory state. No framework, one page, no
# JavaScript; runs in the set-up phase or safe mode, never beside the loop.
# A saved form reboots the board into it; Ctrl-C on the console leaves for
# the REPL. Every request is bounded (header, body, time): a bad one gets an
# error page and changes nothing.
import os
import socket
import time
import machine
import network
from micropython import const
from neosensor import store

_MAX_HEAD = const(2048)
_MAX_BODY = const(1024)
_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>%s</title></head><body style="font-family:sans-serif;max-width:30em;margin:1em auto">
<h1>%s</h1><p>%s</p>%s</body></html>"""
_FORM = """<form method="post" action="/save">
<p><label>Wi-Fi network<br><input name="ssid" list="nets" maxlength="32" value="%s" required></label>
<datalist id="nets">%s</datalist></p>
<p><label>Wi-Fi password (8 to 63 characters, empty for an open network)<br>
<input name="password" type="password" maxlength="63"></label></p>
<p><label>sensOCampus URL (empty: the campus server)<br><input name="server" value="%s"></label></p>
<p><label><input name="sandbox" type="checkbox"%s> sandbox mode (no sensOCampus)</label></p>
<p><button>Save and reboot</button></p></form>
<form method="post" action="/factory"><p><button>Factory reset</button> (forgets the set-up, keeps the firmware)</p></form>"""
# What a factory reset forgets (the firmware and MicroPython stay): every
# JSON file but the firmware's own (config, credentials, module settings,
# the plan, update state), every temp file (store.load would read a
# NAME.tmp back), the outbox and the crash count.
_STATE = ("outbox.bin", "crash.count", "crash.tmp")


def ap_name():
    mac = network.WLAN(network.STA_IF).config("mac")
    return "neOSensor_%02x%02x" % (mac[4], mac[5])


def run(why, feed=None, timeout_ms=0):
    """Serve the form until it is saved (then reset) or timeout_ms passed
    (0: for ever); returns on a timeout."""
    ap = network.WLAN(network.AP_IF)
    ap.active(True)
    ap.config(essid=ap_name())
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(socket.getaddrinfo("0.0.0.0", 80)[0][-1])
    srv.listen(2)
    srv.settimeout(1)
    print("portal: %s: access point %s, set-up form at http://%s/ (Ctrl-C: the REPL)"
          % (why, ap_name(), ap.ifconfig()[0]))
    t0 = time.ticks_ms()
    try:
        while not timeout_ms or time.ticks_diff(time.ticks_ms(), t0) < timeout_ms:
            if feed:
                feed()
            try:
                conn = srv.accept()[0]
            except OSError:
                continue
            try:
                conn.settimeout(5)
                done = _serve(conn)
                _drain(conn)
            except Exception as e:  # a client gone or garbage: that client only
                print("portal: request failed: %r" % (e,))
                done = False
            conn.close()
            if done:
                print("portal: saved: reboot")
                time.sleep_ms(200)
                machine.reset()
    finally:
        srv.close()
    print("portal: no form saved in %d s" % (timeout_ms // 1000))


def _drain(conn):
    # What the client sent beyond what was read (an oversized header, say) is
    # read and dropped, a bounded amount: closed with it unread, the socket
    # would reset the connection and the client could lose the answer.
    conn.settimeout(0.3)
    try:
        for _ in range(64):
            if not conn.read(512):
                break
    except OSError:
        pass


def _answer(conn, status, title, text, body=""):
    page = _PAGE % (title, title, text, body)
    conn.write("HTTP/1.0 %s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n"
               "Connection: close\r\n\r\n" % (status, len(page.encode())))
    conn.write(page)


def _escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _serve(conn):
    """One request; True when a new set-up was saved."""
    line = conn.readline()
    head = len(line)
    length = 0
    while True:
        h = conn.readline()
        head += len(h)
        if head > _MAX_HEAD:
            _answer(conn, "431 Request Header Fields Too Large", "Request too large",
                    "The request's header is over %d bytes." % _MAX_HEAD)
            return False
        if not h or h == b"\r\n" or h == b"\n":
            break
        if h[:15].lower() == b"content-length:":
            try:
                length = int(h[15:])
            except ValueError:
                length = -1
    words = line.split()
    if len(words) < 2 or words[0] not in (b"GET", b"POST"):
        _answer(conn, "400 Bad Request", "Bad request", "Not an HTTP request.")
        return False
    method, path = words[0], words[1]
    if method == b"GET" and path == b"/":
        cfg = store.load("config.json") or {}
        nets = cfg.get("wifi") or [{}]
        seen = []
        try:
            for n in network.WLAN(network.STA_IF).scan():
                name = n[0].decode()
                if name and name not in seen:
                    seen.append(name)
        except Exception:  # a radio that cannot scan: free entry only
            pass
        options = "".join('<option value="%s">' % _escape(x) for x in seen)
        form = _FORM % (_escape(nets[0].get("ssid") or ""), options, _escape(cfg.get("sensocampus") or ""),
                        " checked" if cfg.get("sandbox") else "")
        _answer(conn, "200 OK", ap_name(), "Set up this neOSensor.", form)
        return False
    if method != b"POST" or path not in (b"/save", b"/factory"):
        _answer(conn, "404 Not Found", "Not found", "Only the set-up form is here: <a href=\"/\">/</a>.")
        return False
    if length < 0 or length > _MAX_BODY:
        _answer(conn, "413 Payload Too Large", "Form too large", "The form is over %d bytes." % _MAX_BODY)
        return False
    body = conn.read(length) if length else b""
    if len(body) != length:
        _answer(conn, "400 Bad Request", "Form cut short", "The form did not arrive whole: nothing was changed.")
        return False
    if path == b"/factory":
        for e in list(os.ilistdir("/")):
            n = e[0]
            if e[1] != 0x4000 and n != "firmware.json" and (n in _STATE or n.endswith(".json")
                                                           or n.endswith(".tmp")):
                os.remove(n)
        _answer(conn, "200 OK", "Factory reset", "The set-up is forgotten: the board reboots into this portal.")
        return True
    try:
        form = _fields(body)
    except ValueError:  # a bad %XX, or bytes that are no UTF-8
        form = None
    err = _check(form) if form is not None else "The form could not be read."
    if err:
        _answer(conn, "400 Bad Request", "Not saved", err + " Nothing was changed. <a href=\"/\">Back</a>")
        return False
    cfg = store.load("config.json")
    if not isinstance(cfg, dict):
        cfg = {}
    cfg["wifi"] = [{"ssid": form["ssid"], "password": form.get("password", "")}]
    if form.get("server"):
        cfg["sensocampus"] = form["server"]
    cfg["sandbox"] = "sandbox" in form
    store.save("config.json", cfg)
    try:
        os.remove("crash.count")  # out of safe mode: a new set-up deserves new tries
    except OSError:
        pass
    _answer(conn, "200 OK", "Saved", "The board reboots and joins %s." % _escape(form["ssid"]))
    return True


def _unquote(b):
    out = bytearray()
    i = 0
    while i < len(b):
        c = b[i]
        if c == 43:  # +
            out.append(32)
        elif c == 37 and i + 2 < len(b):  # %XX
            out.append(int(b[i + 1:i + 3], 16))
            i += 2
        else:
            out.append(c)
        i += 1
    return bytes(out).decode()


def _fields(body):
    form = {}
    for pair in body.split(b"&"):
        k, _, v = pair.partition(b"=")
        if k:
            form[_unquote(k)] = _unquote(v)
    return form


def _check(form):
    """The first thing wrong with the form, or None."""
    ssid = form.get("ssid", "")
    if not 1 <= len(ssid.encode()) <= 32:
        return "The network name must be 1 to 32 bytes."
    pw = form.get("password", "")
    if pw and not 8 <= len(pw.encode()) <= 63:
        return "The password must be 8 to 63 characters, or empty for an open network."
    url = form.get("server", "")
    if url and not ((url.startswith("http://") or url.startswith("https://")) and 10 < len(url) <= 200
                    and " " not in url):
        return "The sensOCampus URL must start with http:// or https://."
    return None
