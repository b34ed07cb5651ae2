"""The sensOCampus handshake of the agent: the firmware's protocol client
(neocampus.sensocampus) over `requests`, the MAC of eth0/wlan0, credentials
kept in credentials.json (mode 0600, atomic), retries with the firmware's
growing, jittered delays (forever: a Pi has no reason to reboot for it)."""
import json
import logging
import os
import time

import requests

from neocampus import ids
from neocampus import sensocampus as sc
from rpi_agent import store

log = logging.getLogger("rpi_agent.handshake")


class Http:
    """The transport neocampus.sensocampus takes: (method, url, headers, body) -> (status, bytes)."""

    def __init__(self, timeout=10.0, ca_file=None):
        self.session = requests.Session()
        self.timeout = timeout
        self.verify = ca_file or True
        self.last_config = None

    def __call__(self, method, url, headers=None, body=None):
        try:
            r = self.session.request(method, url, headers=headers, data=body, timeout=self.timeout,
                                     verify=self.verify)
        except requests.RequestException as e:
            raise OSError("%s %s: %s" % (method, url, e)) from None
        if url.endswith("/device/config"):
            self.last_config = r.content  # for what the portable client does not parse (a display's rooms)
        return r.status_code, r.content


def interface_mac(names, sys_net="/sys/class/net"):
    """The MAC of the first interface of `names` that exists (eth0, then wlan0)."""
    for name in names:
        try:
            with open(os.path.join(sys_net, name, "address")) as f:
                mac = f.read().strip()
        except OSError:
            continue
        if mac and mac != "00:00:00:00:00:00":
            return ids.mac_wire(mac)
    raise ValueError("no MAC address: none of the interfaces %s exists here (give --mac)" % ", ".join(names))


def once(http, url, mac, cred_path, server=None, port=None):
    """One handshake: (credentials dict, sensocampus.Config). Raises what
    neocampus.sensocampus raises (OSError for the network)."""
    stored = store.load_json(cred_path)
    creds, changed = sc.credentials(http, url, mac, stored, server, port)
    if changed:
        store.save_json(cred_path, creds)
        log.info("credentials stored for %s in %s", creds["mqtt_login"], cred_path)
    elif stored:
        log.info("reusing the stored password of %s", creds["mqtt_login"])
    conf = sc.config(http, url, creds["mqtt_login"], creds["mqtt_passwd"])
    conf.rooms = display_rooms(getattr(http, "last_config", None))
    return creds, conf


def display_rooms(body):
    """The `rooms` a display account's config answer lists (the stub's display
    kind), as location topics; [] when there are none."""
    try:
        rooms = json.loads(body).get("rooms") if body else None
    except (ValueError, AttributeError):
        return []
    if not isinstance(rooms, list):
        return []
    return [r for r in rooms if isinstance(r, str) and r.count("/") == 1 and "+" not in r and "#" not in r]


def run(http, url, mac, cred_path, server=None, port=None, step=10, stop=None, sleep=time.sleep):
    """Handshake until it works (or `stop()` says so: returns None)."""
    tries = 0
    while stop is None or not stop():
        try:
            return once(http, url, mac, cred_path, server, port)
        except (sc.Unregistered, sc.NoPassword, sc.AuthRefused) as e:
            wait = 6 * step + sc.retry_delays(1, step)[0]  # waiting for an admin: slowly
            log.error("sensOCampus: %s; retrying in %.0f s", e, wait)
        except (OSError, sc.SensocampusError) as e:
            wait = sc.retry_delays(min(tries + 1, 5), step)[-1]
            log.warning("sensOCampus try %d failed (%s); next in %.1f s", tries + 1, e, wait)
        tries += 1
        end = time.monotonic() + wait
        while time.monotonic() < end and (stop is None or not stop()):
            sleep(min(0.2, end - time.monotonic()))
    return None
