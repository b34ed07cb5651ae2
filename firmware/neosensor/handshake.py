# Boot-time sensOCampus handshake: credentials (password persisted in
# sensocampus.json and reused when the server sends none), then the config.
# Retries with growing delays and random jitter, then a reset; an unknown
# device (HTTP 403) is said on the console and retried slowly, forever,
# without a crash loop. Loaded only at boot: the app drops it afterwards.
import time
from neocampus import sensocampus as sc
from neosensor import store, http

STORE = "sensocampus.json"


def _wait(seconds, feed, led=None):
    t0 = time.ticks_ms()
    on = 0
    while time.ticks_diff(time.ticks_ms(), t0) < int(seconds * 1000):
        if feed:
            feed()
        if led is not None:
            on ^= 1
            led.value(on)
        time.sleep_ms(250)


def run(cfg, mac, feed=None, led=None):
    """(credentials dict, Config); resets the board when sensOCampus stays unreachable."""
    broker = cfg.get("broker") or {}
    server, port = broker.get("server"), broker.get("port")
    if cfg.get("sandbox"):
        name = "neOSensor_" + mac.replace(":", "")[-4:]
        print("sensocampus: sandbox mode, topic TestTopic/" + name)
        return sc.sandbox_session(name, server, port)
    url = cfg.get("sensocampus") or sc.DEFAULT_URL
    step = cfg.get("retry_step", 10)
    delays = sc.retry_delays(5, step)
    tries = 0
    while True:
        stored = store.load(STORE)
        try:
            creds, changed = sc.credentials(http.request, url, mac, stored, server, port)
            if stored and stored.get("mqtt_passwd") == creds["mqtt_passwd"]:
                print("sensocampus: reusing the stored password of " + creds["mqtt_login"])
            if changed:
                store.save(STORE, creds)
                print("sensocampus: credentials stored for " + creds["mqtt_login"])
            conf = sc.config(http.request, url, creds["mqtt_login"], creds["mqtt_passwd"])
            print("sensocampus: config: topic %s, %d modules" % (conf.base_topic, len(conf.modules)))
            return creds, conf
        except (sc.Unregistered, sc.NoPassword, sc.AuthRefused) as e:
            # Waiting for an admin: slow, jittered, never a reset loop.
            wait = 6 * step + delays[0]
            print("sensocampus: %s; retrying in %d s" % (e, wait))
            _wait(wait, feed, led)
        except (OSError, sc.SensocampusError) as e:
            if tries >= len(delays):
                print("sensocampus: unreachable after %d tries: reset" % tries)
                import machine
                machine.reset()
            print("sensocampus: try %d failed (%r); next in %.2f s" % (tries + 1, e, delays[tries]))
            _wait(delays[tries], feed)
            tries += 1
