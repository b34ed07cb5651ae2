"""Broker authorisation rules of the sensOCampus stub: one source of truth.

`rules()` turns the registry's devices into (user, access, pattern) tuples;
the Mosquitto ACL file is rendered from them and the embedded amqtt broker
checks every publish and subscribe with `allowed()` over the same tuples, so
both brokers enforce exactly the same policy.

access is Mosquitto's vocabulary: "read" (subscribe and receive), "write"
(publish) or "readwrite".
"""
import re
import unicodedata

COLLECTOR_USER = "neoc_collector"
# Reads what the collector reads, under a login of its own: tests, benches and
# tools watch the broker without taking the collector's session (client ids
# belong to their login, so two clients of one login would push each other out).
OBSERVER_USER = "neoc_observer"

_NON_WORD = re.compile(r"[^0-9a-z_]")


def sanitize(name):
    """One topic level as the registry derives it: "Bâtiment U4" -> "batiment_u4"."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("building and room must be non-empty strings")
    decomposed = unicodedata.normalize("NFKD", name.strip().lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    # ASCII only: the topic ends up in ACL files and on MicroPython boards.
    return _NON_WORD.sub("_", plain)


def location_topic(building, room):
    return sanitize(building) + "/" + sanitize(room)


def device_rules(login, location):
    """What a device may do: publish its readings, listen to its room's commands."""
    return [(login, "write", location + "/+"),
            (login, "read", location + "/+/command")]


def display_rules(login, location, rooms):
    """What a read-only display may do: read the readings of the rooms it shows, and,
    as every device does, publish its own `device` status and listen to its device
    orders at its own location. It publishes no readings and no commands."""
    out = [(login, "write", location + "/device"),
           (login, "read", location + "/device/command")]
    out.extend((login, "read", room + "/+") for room in rooms)
    return out


def account_rules(login, location, enabled, rooms=None):
    """rooms None: a sensor device; a list: a display showing those location topics."""
    if not enabled or not location:
        return []
    if rooms is None:
        return device_rules(login, location)
    return display_rules(login, location, rooms)


def collector_rules(user=COLLECTOR_USER):
    # The collector's connection also sends the registry's orders (device and module).
    return [(user, "read", "+/+/+"),
            (user, "write", "+/+/+/command")]


def client_id_allowed(login, client_id):
    """Whether `client_id` belongs to `login`: it holds the login's MAC (a device:
    the firmware's `neOSensor_<hex>`, the login `senso_<hex>`) or the login itself
    (the stub's own accounts). An empty id is the broker's to make up. No login can
    then take the session of another, whose id holds a different MAC or name."""
    if not isinstance(login, str) or not login or not isinstance(client_id, str):
        return False
    if not client_id:
        return True
    token = login[len("senso_"):] if login.startswith("senso_") else login
    return token.lower() in client_id.lower()


def rules(devices, collector_user=COLLECTOR_USER):
    """devices: iterable of (login, location, enabled) or (login, location, enabled,
    rooms) with rooms a list for a display. A disabled device gets nothing."""
    out = list(collector_rules(collector_user))
    for entry in devices:
        out.extend(account_rules(*entry))
    return out


def topic_matches(pattern, topic):
    """MQTT matching of `topic` (which may itself be a subscription filter) against an
    ACL pattern. A filter is only covered when every one of its levels is: a `+` in
    the filter needs a `+` or `#` in the pattern, the way Mosquitto checks SUBSCRIBE."""
    p = pattern.split("/")
    t = topic.split("/")
    for i, level in enumerate(p):
        if level == "#":
            return True
        if i >= len(t):
            return False
        if t[i] == "#":
            return False
        if level == "+":
            continue
        if level != t[i]:
            return False
    return len(t) == len(p)


def allowed(rule_list, user, action, topic):
    """action: "publish", "subscribe" or "receive" (amqtt's Action values)."""
    if not user or not topic:
        return False
    want = "write" if action == "publish" else "read"
    for r_user, access, pattern in rule_list:
        if r_user == user and (access == want or access == "readwrite") and topic_matches(pattern, topic):
            return True
    return False


def to_mosquitto_acl(rule_list):
    from provisioning.mosquitto import Acl
    acl = Acl()
    for user, access, pattern in rule_list:
        acl.allow(user, access, pattern)
    return acl
