"""The agent's one MQTT connection (paho-mqtt 2.x, CallbackAPIVersion.VERSION2):
the firmware's last will on <base>/device, keepalive 60, TLS with a CA file,
reconnection with backoff, the <base>/+/command subscription, and the
outbox drained at QoS 1 in order.

paho is driven from the agent's own loop (its socket in the loop's
select(), service() each turn), not from a network thread of its own: a
publish is written by the loop that made the reading, with no wake-up of
another thread and no handing of the GIL back and forth, and a PUBACK read
at a steady trickle asks for no turn of its own (bench/agent.py measured
both). Only a connection attempt runs on a short-lived thread, because the
TCP connect and the TLS handshake block (up to `connect_timeout`); the loop
leaves the client alone until it ends.

paho resends its own unacknowledged QoS 1 messages after a reconnect, in
order, so a row is handed to paho once per process (ids above `_sent_id`)
within a window of `window` unacked messages; each PUBACK acks its row in the
outbox (swept by pump(), from the agent's loop). After a restart the outbox
starts again from its oldest row.

The window also keeps paho's message ids apart: they are 16-bit and paho
keys its unacknowledged messages by id, so more than 65,535 handed over at
once would overwrite the oldest (never acknowledged, never resent).
"""
import logging
import random
import select
import ssl
import threading
import time

import paho.mqtt.client as mqtt

from rpi_agent.wakeup import Wakeup

log = logging.getLogger("rpi_agent.mqtt")
_OK = mqtt.MQTT_ERR_SUCCESS


class Transport:
    def __init__(self, outbox, client_id, server, port, login, password, will_topic, will_payload,
                 tls=False, ca_file=None, keepalive=60, backoff_max=60, window=64, on_message=None,
                 on_connect=None, metrics=None, wake=None, connect_timeout=5.0):
        self.outbox = outbox
        self.server, self.port = server, port
        self.window = window
        self.on_message = on_message
        self.on_connected = on_connect
        self.metrics = metrics
        self.wake = wake if wake is not None else Wakeup()
        self.connected = threading.Event()
        self.connects = 0
        self.attempts = 0      # connection attempts, failed ones included
        self.sent = 0
        self.subscriptions = []
        self._stopping = False
        self._pending = []     # (paho MQTTMessageInfo, outbox row id), awaiting PUBACK
        self._sent_id = 0      # highest row id handed to paho in this process
        self._burst = False    # several rows handed at once (a backlog): a PUBACK asks for a turn
        self._failure = None   # the last reason the broker could not be reached, said once
        self._sock = None      # the socket in the loop's select()
        self._next_try = None  # monotonic s of the next connection attempt; None: not started, or stopped
        self._delay = 1.0      # the wait before the next attempt: doubles up to backoff_max
        self._attempt = None   # the thread of a connection attempt under way
        self._attempt_error = None
        c = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                      protocol=mqtt.MQTTv311)
        c.username_pw_set(login, password)
        c.will_set(will_topic, will_payload, qos=0, retain=False)
        if tls:
            ctx = ssl.create_default_context(cafile=ca_file)
            c.tls_set_context(ctx)
        c.connect_timeout = connect_timeout
        self.backoff_max = int(backoff_max)
        # The window is ours; paho's own cap would queue the rest unseen.
        c.max_inflight_messages_set(window)
        c.max_queued_messages_set(0)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        # Out of the loop's select() before paho closes it: its number may be reused at once.
        c.on_socket_close = lambda client, userdata, sock: self._forget(sock)
        self.keepalive = keepalive

    def start(self):
        """Connect at the loop's next turn (service()), and again after each loss."""
        self.client.connect_async(self.server, self.port, keepalive=self.keepalive)
        self._next_try = 0.0

    def stop(self, status_topic=None, status_payload=None):
        """Say goodbye cleanly: the last status (as the will would), then DISCONNECT."""
        self._next_try = None
        if self._attempt is not None:
            self._attempt.join(self.client.connect_timeout + 1)
            self._adopt()
        c = self.client
        if status_topic and self.connected.is_set():
            info = c.publish(status_topic, status_payload, qos=1)
            deadline = time.monotonic() + 2
            # Only the MQTT socket is served here: the loop and its serial lines have stopped.
            while not info.is_published() and c.socket() is not None and time.monotonic() < deadline:
                sock = c.socket()
                r, w, _ = select.select([sock], [sock] if c.want_write() else [], [], 0.1)
                if w:
                    c.loop_write()
                if r:
                    c.loop_read()
        self._stopping = True
        c.disconnect()  # written at once (no network thread), and the socket closed
        if self._sock is not None:
            self._forget(self._sock)

    # -- the loop's side: connection ------------------------------------------------
    def service(self, now=None):
        """The network work of one turn, on the loop's thread: a connection
        attempt when due (or the one that ended adopted), keepalive, and
        what paho could not write at once."""
        if self._attempt is not None:
            if self._attempt.is_alive():
                return
            self._adopt()
        now = time.monotonic() if now is None else now
        c = self.client
        if c.socket() is None:
            if self._next_try is not None and now >= self._next_try:
                self._try()
            return
        c.loop_misc()  # keepalive: a PINGREQ when due, the link closed when its PINGRESP did not come
        self._flush_writes()

    def next_due(self):
        """monotonic s by which service() must run again (None: nothing of its own to do)."""
        if self._attempt is not None or self.client.socket() is not None:
            return time.monotonic() + 1.0  # keepalive; an attempt wakes the loop when it ends
        return self._next_try

    def _try(self):
        self.attempts += 1
        self._next_try = None
        self._attempt_error = None
        self._attempt = threading.Thread(target=self._connect, name="mqtt-connect", daemon=True)
        self._attempt.start()

    def _connect(self):
        # TCP connect and TLS handshake block: on this thread, while the loop goes on without the client.
        try:
            self.client.reconnect()
        except Exception as e:  # OSError, ssl.SSLError, a name that does not resolve: said by the loop
            self._attempt_error = e
        finally:
            self.wake.set()

    def _adopt(self):
        """The attempt ended: the socket goes into the loop's select(), or the
        next attempt is set (backoff) and a new reason said once."""
        self._attempt = None
        sock = self.client.socket()
        e = self._attempt_error
        if sock is not None:
            # Connected (a CONNACK, or a refusal, or the link's loss, comes through the loop from here on).
            self._sock = sock
            self.wake.add(sock, self._readable)
            self._flush_writes()
            return
        why = str(e or "no reason given")
        if why != self._failure:  # said when it starts or changes, not at every try of a long outage
            self._failure = why
            log.warning("cannot connect to %s:%d: %s (trying again, up to %d s apart)", self.server, self.port,
                        why, self.backoff_max)
        self._backoff()

    def _backoff(self):
        if self._next_try is None and not self._stopping:
            # Jitter: the Pis of a building that lost the broker together do not all come back at once.
            self._next_try = time.monotonic() + self._delay * random.uniform(0.75, 1.0)
            self._delay = min(self._delay * 2, self.backoff_max)

    def _forget(self, sock):
        if sock is self._sock:
            self.wake.remove(sock)
            self._sock = None

    def _readable(self):
        c = self.client
        c.loop_read()
        sock = c.socket()
        # TLS: what was decrypted already waits in the SSL object, where select() does not look.
        while sock is not None and hasattr(sock, "pending") and sock.pending() > 0:
            c.loop_read()
            sock = c.socket()
        self._flush_writes()  # what callbacks queued (subscriptions, resends after CONNACK): paho writes it not there
        if self._pending and self.outbox.sync_due() is not None:
            self.sweep()  # acked in the outbox now: an fsync that waited for these PUBACKs is called off
        # A turn is wanted only when rows wait for the room a PUBACK made; other
        # events (a message, a connection, its loss) set the loop's wake-up themselves.
        return bool(self._burst or self.connected.is_set() and self.backlog())

    def _writable(self):
        self.client.loop_write()
        self._flush_writes()

    def _flush_writes(self):
        """Ask the loop to call back once the socket takes more of what paho could not write."""
        sock = self._sock
        if sock is not None:
            self.wake.want_write(sock, self._writable if self.client.want_write() else None)

    # -- paho callbacks (on the loop's thread, from loop_read/loop_misc) -----------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("broker %s:%d refused the connection: %s", self.server, self.port, reason_code)
            return
        self.connects += 1
        self._failure = None
        self._delay = 1.0
        if self.metrics:
            self.metrics.connected(self.connects)
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        log.info("connected to %s:%d (connection %d)", self.server, self.port, self.connects)
        self.connected.set()
        if self.on_connected:
            self.on_connected()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if self.connected.is_set() and not self._stopping:
            log.warning("link to %s:%d lost: %s", self.server, self.port, reason_code)
        self.connected.clear()
        if self._next_try is None and self._attempt is None and not self._stopping:
            self._backoff()
            self.wake.set()

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
        """Ack in the outbox every row whose PUBACK came (paho marks its MQTTMessageInfo)."""
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
            if info.rc != _OK:
                break  # link went down meanwhile: the row stays for later
            self._pending.append((info, row_id))
            self._sent_id = row_id
            n += 1
        if n > 1:
            self._burst = True
        if n:
            self._flush_writes()
        return n

    def publish_now(self, topic, payload):
        """Statuses: QoS 1 when connected, not stored (a stale status is no news)."""
        if not self.connected.is_set():
            return False
        ok = self.client.publish(topic, payload, qos=1).rc == _OK
        self._flush_writes()
        return ok

    def poll(self, timeout):
        """A loop of its own for one turn (a transport used without the agent: tests, tools)."""
        self.service()
        self.pump()
        due = self.next_due()
        if due is not None:
            timeout = min(timeout, max(0.0, due - time.monotonic()))
        self.wake.wait(timeout)
