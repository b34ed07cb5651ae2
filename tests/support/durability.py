"""A device publishing numbered readings through a stub while something is killed,
and the count of what the broker acknowledged but the stub never stored.

    pub = Publisher(stub, mac, login, password, base)
    pub.run(2000, rate=1000, at=1000, action=lambda: os.kill(pid, signal.SIGKILL))
    lost, duplicated = pub.settle(stub_after)

The publisher reconnects by itself (paho) and re-sends what was not
acknowledged; only readings whose PUBACK came back (QoS 1) or that were
written to the socket (QoS 0) count as sent.
"""
import collections
import json
import threading
import time

import paho.mqtt.client as mqtt
import requests


class Publisher:
    def __init__(self, stub, mac, login, password, base, qos=1):
        self.base, self.qos = base, qos
        self.unit = "auto_" + mac.replace(":", "").lower()[-4:]
        self.acked = set()
        self._seq_of = {}
        self._early = {}
        self._lock = threading.Lock()
        c = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                      client_id="neOSensor_" + mac.replace(":", "").lower())
        c.username_pw_set(login, password)
        c.max_inflight_messages_set(100)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(0.1, 0.5)
        c.on_publish = self._on_publish
        self.connected = threading.Event()
        c.on_connect = lambda *a: self.connected.set()
        c.connect(stub.mqtt_host, stub.mqtt_port, keepalive=10)
        c.loop_start()
        if not self.connected.wait(10):
            raise AssertionError("publisher not connected to %s:%d" % (stub.mqtt_host, stub.mqtt_port))

    def _on_publish(self, client, userdata, mid, reason_code, props):
        # Network thread, inside paho's own locks: never call paho while holding ours.
        with self._lock:
            seq = self._seq_of.pop(mid, None)
            if seq is None:
                self._early[mid] = not reason_code.is_failure  # PUBACK before publish() returned
            elif not reason_code.is_failure:
                self.acked.add(seq)

    def run(self, count, rate=1000, at=None, action=None):
        """Publish seq 0..count-1 at about `rate` per second; call action() once after `at`."""
        t0 = time.monotonic()
        for seq in range(count):
            if seq == at and action is not None:
                action()
            payload = json.dumps({"value": 20 + seq % 100 / 10.0, "value_units": "celsius", "subID": "24",
                                  "unitID": self.unit, "seq": seq})
            info = self.client.publish(self.base + "/temperature", payload, qos=self.qos)
            if self.qos:
                with self._lock:
                    if info.mid in self._early:
                        if self._early.pop(info.mid):
                            self.acked.add(seq)
                    else:
                        self._seq_of[info.mid] = seq
            if self.qos == 0 and info.rc == mqtt.MQTT_ERR_SUCCESS:
                self.acked.add(seq)  # QoS 0: sent is all a device ever knows
            delay = t0 + (seq + 1) / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def wait_acked(self, count, timeout=30):
        """Until every reading in flight was acknowledged (paho re-sends after a reconnect)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._seq_of:
                    return True
            time.sleep(0.1)
        return False

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()

    def stored(self, stub):
        rows = requests.get(stub.url + "/api/readings", params={"unit": self.unit, "limit": 100000},
                            headers={"Authorization": "Bearer " + stub.token}, timeout=10).json()
        return collections.Counter(r["seq"] for r in rows if r["topic"] == self.base + "/temperature")

    def settle(self, stub, quiet=3.0, timeout=60):
        """Wait until the stored count stops moving: -> (acked but never stored, stored twice)."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            seqs = self.stored(stub)
            if self.acked <= set(seqs):
                break
            if last != len(seqs):
                last, since = len(seqs), time.monotonic()
            elif time.monotonic() - since > quiet:
                break
            time.sleep(0.2)
        seqs = self.stored(stub)
        return len(self.acked - set(seqs)), sum(n - 1 for n in seqs.values() if n > 1)
