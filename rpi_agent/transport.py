"""The agent's one MQTT connection (paho-mqtt 2.x, CallbackAPIVersion.VERSION2):
the firmware's last will on <base>/device, keepalive 60, TLS with a CA file,
reconnection with backoff, the <base>/+/command subscription, and the
outbox drained at QoS 1 in order.

paho resends its own unacknowledged QoS 1 messages after a reconnect, in
order, so a row is handed to paho once per process (ids above `_sent_id`)
within a window of `window` unacked messages; each PUBACK acks its row in the
outbox (swept by pump(), from the agent's loop). After a restart the outbox
starts again from its oldest row.

The loop is woken by a PUBACK (`on_ack`) only while a backlog drains (rows
wait for room in the window, or several were handed over at once): at a
steady trickle the acks are swept at the loop's next turn, so a reading costs
the loop one wake-up, not two (measured: bench/agent.py).

The window also keeps paho's message ids apart: they are 16-bit and paho
keys its unacknowledged messages by id, so more than 65,535 handed over at
once would overwrite the oldest (never acknowledged, never resent).
"""
import logging
import ssl
import sys
import threading

import paho.mqtt.client as mqtt

log = logging.getLogger("rpi_agent.mqtt")


class Transport:
    def __init__(self, outbox, client_id, server, port, login, password, will_topic, will_payload,
                 tls=False, ca_file=None, keepalive=60, backoff_max=60, window=64, on_message=None,
                 on_connect=None, metrics=None, on_ack=None):
        self.outbox = outbox
        self.server, self.port = server, port
        self.window = window
        self.on_message = on_message
        self.on_connected = on_connect
        self.on_ack = on_ack
        self.metrics = metrics
        self.connected = threading.Event()
        self.connects = 0
        self.sent = 0
        self.subscriptions = []
        self._stopping = False
        self._pending = []    # (paho MQTTMessageInfo, outbox row id), awaiting PUBACK
        self._sent_id = 0     # highest row id handed to paho in this process
        self._burst = False   # several rows handed at once (a backlog): every PUBACK wakes the loop
        self._failure = None  # the last reason the broker could not be reached, said once
        c = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                      protocol=mqtt.MQTTv311)
        c.username_pw_set(login, password)
        c.will_set(will_topic, will_payload, qos=0, retain=False)
        if tls:
            ctx = ssl.create_default_context(cafile=ca_file)
            c.tls_set_context(ctx)
        self.backoff_max = int(backoff_max)
        c.reconnect_delay_set(1, self.backoff_max)
        # The window is ours; paho's own cap would queue the rest unseen.
        c.max_inflight_messages_set(window)
        c.max_queued_messages_set(0)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_connect_fail = self._on_connect_fail
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        self.keepalive = keepalive

    def start(self):
        self.client.connect_async(self.server, self.port, keepalive=self.keepalive)
        self.client.loop_start()

    def stop(self, status_topic=None, status_payload=None):
        """Say goodbye cleanly: the last status (as the will would), then DISCONNECT."""
        if status_topic and self.connected.is_set():
            info = self.client.publish(status_topic, status_payload, qos=1)
            try:
                info.wait_for_publish(2)
            except (RuntimeError, ValueError):
                pass
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho callbacks (network thread) ----------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("broker %s:%d refused the connection: %s", self.server, self.port, reason_code)
            return
        self.connects += 1
        self._failure = None
        if self.metrics:
            self.metrics.connected(self.connects)
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        log.info("connected to %s:%d (connection %d)", self.server, self.port, self.connects)
        self.connected.set()
        if self.on_connected:
            self.on_connected()

    def _on_connect_fail(self, client, userdata):
        # paho calls this within its `except OSError`: the exception is the one being handled.
        why = str(sys.exc_info()[1] or "no reason given")
        if why != self._failure:  # said when it starts or changes, not at every try of a long outage
            self._failure = why
            log.warning("cannot connect to %s:%d: %s (trying again, up to %d s apart)", self.server, self.port,
                        why, self.backoff_max)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if self.connected.is_set() and not self._stopping:
            log.warning("link to %s:%d lost: %s", self.server, self.port, reason_code)
        self.connected.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        # Runs under paho's lock: no lock of ours taken here, only the loop woken.
        if self.on_ack is not None and (self._burst or self.backlog()):
            self.on_ack()

    def _on_message(self, client, userdata, msg):
        if self.on_message:
            self.on_message(msg.topic, msg.payload)

    # -- agent loop side ----------------------------------------------------------
    def subscribe(self, topic):
        self.subscriptions.append(topic)
        if self.connected.is_set():
            self.client.subscribe(topic, qos=1)

    def backlog(self):
        """Rows stored and not handed to paho yet (they wait for the link or for room)."""
        return self.outbox.last_id > self._sent_id

    def inflight(self):
        return {row for _, row in self._pending}

    def sweep(self):
        """Ack in the outbox every row whose PUBACK came (paho marks its
        MQTTMessageInfo). Swept from the loop, not in on_publish: that
        callback runs under paho's lock, which publish() also takes, and
        sharing a lock of ours between the two would deadlock."""
        left = []
        for info, row in self._pending:
            if info.is_published():
                self.outbox.ack(row)
                self.sent += 1  # /metrics reads it when scraped
            else:
                left.append((info, row))
        self._pending = left
        if not left:
            self._burst = False

    def pump(self):
        """Ack what was acknowledged, then hand the next outbox rows to paho,
        up to the window. Returns how many were handed over."""
        self.sweep()
        if not self.connected.is_set():
            return 0
        room = self.window - len(self._pending)
        if room <= 0 or self._sent_id >= self.outbox.last_id:
            return 0
        n = 0
        for row_id, topic, payload in self.outbox.after(self._sent_id, room):
            info = self.client.publish(topic, payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                break  # link went down meanwhile: the row stays for later
            self._pending.append((info, row_id))
            self._sent_id = row_id
            n += 1
        if n > 1:
            self._burst = True
        return n

    def publish_now(self, topic, payload):
        """Statuses: QoS 1 when connected, not stored (a stale status is no news)."""
        if not self.connected.is_set():
            return False
        return self.client.publish(topic, payload, qos=1).rc == mqtt.MQTT_ERR_SUCCESS
