# The board's ONE MQTT connection, over umqtt.simple (forked: see
# lib/umqtt/VENDORED.md; its socket timeout, TLS through any object with
# wrap_socket(), and publish_parts() with its bounded QoS 1 are what this
# module uses): connect with a last will on <base>/device, one subscription
# to <base>/+/command, keepalive pings, and reconnection that closes the
# socket it replaces. One
# per board, so a module, not a class: its state is module globals (a class
# and its instance would keep ~300 B more of heap).
# MQTT over TLS on port 8883 (or with "tls" in config.json's broker) goes
# through neosensor.tls, the https client's, which verifies the broker when
# ca.pem is on the flash.
import time
from micropython import const
from umqtt import simple

_TIMEOUT = const(4)   # s, per socket wait: a hung broker holds the loop (its sampling) no longer
_KEEPALIVE = const(60)

client = None
base = None
up = False
connects = 0
errors = 0
nomem = 0     # messages (in or out) and loop turns dropped for want of memory
_sent = 0


def setup(creds, mac, topic_base, on_message, will):
    global client, base
    server = creds.get("mqtt_server") or "neocampus.univ-tlse3.fr"
    port = creds.get("mqtt_port") or 1883
    tls = None
    if creds.get("mqtt_tls") or port == 8883:
        from neosensor import tls  # only where it serves
    client = simple.MQTTClient("neOSensor_" + mac.replace(":", ""), server, port=port,
                               user=creds["mqtt_login"], password=creds["mqtt_passwd"],
                               keepalive=_KEEPALIVE, ssl=tls, timeout=_TIMEOUT)
    client.set_callback(on_message)
    client.set_last_will(topic_base + "/device", will)
    base = topic_base


def connect():
    """True when connected (and subscribed); False after a failure."""
    global up, connects, _sent
    close()
    c = client
    try:
        c.connect()
        c.subscribe(base + "/+/command")
    except Exception as e:  # OSError, MQTTException, or umqtt's asserts
        print("mqtt: connect to %s:%d failed: %r" % (c.server, c.port, e))
        close()
        return False
    up = True
    connects += 1
    _sent = time.ticks_ms()
    print("mqtt: connected to %s:%d as %s%s" % (c.server, c.port, c.user, " over TLS" if c.ssl else ""))
    return True


def close():
    global up
    up = False
    sock = client.sock
    client.sock = None
    if sock is not None:
        try:
            sock.close()
        except OSError:
            pass


def publish(topic, parts, qos=0):
    """PUBLISH of a payload given as a list of parts (a device status is a
    few hundred bytes that a fragmented heap may not have in one block); QoS
    1 returns once the broker acknowledged it. Out of memory before the first
    byte, the message is dropped and the link kept; a failure while writing,
    or no PUBACK within the timeout, loses the link."""
    global _sent, nomem
    if not up:
        return False
    try:
        client.publish_parts(topic, parts, qos)
    except MemoryError:
        nomem += 1   # raised while counting: nothing was written
        return False
    except Exception as e:
        _lost(e)
        return False
    _sent = time.ticks_ms()
    return True


def poll():
    """Deliver pending commands; ping before the broker's keepalive runs out."""
    global _sent
    if not up:
        return
    try:
        if time.ticks_diff(time.ticks_ms(), _sent) > _KEEPALIVE * 500:
            client.ping()
            _sent = time.ticks_ms()
        # check_msg() returns None both for "nothing" and after a message:
        # a few calls drain a burst without blocking.
        for _ in range(4):
            if not up:
                break
            client.check_msg()
    except Exception as e:
        _lost(e)


def _lost(e):
    global errors, nomem
    errors += 1
    if isinstance(e, MemoryError):
        nomem += 1
    print("mqtt: link lost (%r)" % (e,))
    close()
