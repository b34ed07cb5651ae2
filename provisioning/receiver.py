"""The collector's MQTT receiver: a child process that holds the collector's
broker connection and hands the messages to the stub in batches.

Why a process: decoding a PUBLISH in paho costs as much CPU as the collector's
own work on it (validation, seq counts, SQLite: 29 and ~19 us per message at
QoS 0, MQTT 3.1.1), and in one process both share one GIL with the HTTP
server. Here paho runs alone, in one thread driven from our own select()
(_Child: cheaper per message than paho's own loop thread); the stub keeps all
the work that decides what is stored.

The link is a socket pair carrying pickled frames (multiprocessing's
length-prefixed Connection). Child -> stub: batches of messages
(topic, payload, received time, ack token, qos) and events in their order
(connected, disconnected, subscribed, log lines). Stub -> child: acks, orders
to publish, stop. An ack token is the message id tagged with the number of the
connection it came on: an acknowledgement reaches the broker only on that same
connection, never as a reused message id on a later one (the broker sends
again what a broken connection left unacknowledged; the registry stores it once).

Lifetime: the child ends when told to stop or when the link closes (the stub
exited, even by SIGKILL), disconnecting from the broker first. It ignores
SIGINT and SIGTERM: a terminal's Ctrl-C reaches the whole process group, as
does systemd's stop, and the stub stops it in order after storing what
arrived. A child that dies otherwise is logged with its exit code and started
again, after 1 s, then 2, 4... up to 30 s while it dies before connecting.

This file runs as a script in the child (`python -I receiver.py FD`) and
imports nothing of the project, so the child runs the same code as the stub
whatever its working directory and path.
"""
import logging
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger("neoc.collector")

SESSION_EXPIRY = 86400  # s the broker keeps the collector's session and queue after it went away
RECEIVE_MAXIMUM = 10000  # unacknowledged QoS 1 messages the broker may have in flight to us
MAX_READ_AFTER_BREAK = 5000  # packets read from a broken connection's buffer
GATHER = 0.005  # s the child lets messages gather before a frame: a flood goes in batches, not one by one
MAX_BURST = 1000  # packets read in a row from a readable socket; messages per frame at most
TICK = 1.0  # s between keepalive checks when nothing happens
RECONNECT_MIN, RECONNECT_MAX = 0.2, 2.0  # s between connection attempts, doubled up to the max
LINK_BUFFER = 4 * 1024 * 1024  # socket pair buffers: a flood's batches flow while the stub stores
RESTART_DELAY = 1.0  # s before a child that died is started again; doubled while none connects
MAX_RESTART_DELAY = 30.0
STOP_TIMEOUT = 5.0   # s a stopping child gets before SIGKILL
MID_BITS = 16        # an MQTT message id; the connection number is above it
DISCONNECT = b"\xe0\x00"  # the packet, the same in MQTT 3.1.1 and 5 (reason 0: normal)


def ack_token(connection, mid):
    return (connection << MID_BITS) | mid


def _dumps(obj):
    return pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)


# -- the child --------------------------------------------------------------------
class _Client(mqtt.Client):
    """paho closes the socket at the first error, a failed write included: the
    collector's acknowledgements hit the reset of a broker killed with SIGKILL
    while the last PUBLISH packets it wrote (and acknowledged to their publisher,
    after its last autosave) still sit unread in our kernel buffer, and closing
    throws them away. Read what is still there first; it is stored and, the
    connection gone, not acknowledged (a redelivery is stored once)."""

    def __init__(self, *args, say, **kwargs):
        super().__init__(*args, **kwargs)
        self.say = say

    def _loop_rc_handle(self, rc):
        if rc and self._sock is not None:
            read = 0
            try:
                while read < MAX_READ_AFTER_BREAK and self._packet_read() == mqtt.MQTT_ERR_SUCCESS:
                    read += 1
            except Exception as e:  # whatever the dead socket does, it is closed below
                self.say(logging.ERROR, "reading what the broker sent before the connection broke: %r" % e)
            if read:
                self.say(logging.WARNING, "%d packets read after the connection to the broker broke" % read)
        return super()._loop_rc_handle(rc)


class _Child:
    """One thread: paho driven from our own select() through its external-loop API
    (socket(), loop_read/loop_write/loop_misc), beside the link. paho's own loop
    thread pays a select() and a turn of bookkeeping per packet, and handing its
    messages to a second thread costs GIL hand-overs: here a readable socket is
    read dry (up to MAX_BURST packets) and the messages go out in a frame per
    GATHER s, which makes the child cheaper per message than a bare paho
    subscriber (the bench's baseline)."""

    def __init__(self, link, cfg):
        self.link = link
        self.pending = []  # messages for the next frame
        self.first_pending = 0.0
        self.received = 0
        self.connection = 0  # number of the current (or last) connection
        self.live = False
        self.retry_at = 0.0
        self.retry_delay = RECONNECT_MIN
        self.unreachable_said = False
        self.reading = True  # off once the stub pauses us before its stop
        if cfg["mqtt5"]:
            c = _Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg["client_id"], protocol=mqtt.MQTTv5,
                        manual_ack=cfg["manual_ack"], say=self.say)
        else:
            c = _Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg["client_id"], protocol=mqtt.MQTTv311,
                        clean_session=False, manual_ack=cfg["manual_ack"], say=self.say)
        c.username_pw_set(cfg["user"], cfg["password"])
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_disconnect = self._on_disconnect
        c.on_subscribe = self._on_subscribe
        # Queued packets (acks, orders) are written by our loop, many per turn, not one
        # send() as each is queued.
        c.on_socket_register_write = lambda client, userdata, sock: None
        self.client = c
        self.cfg = cfg

    def say(self, level, text):
        self._event("log", level, text)

    def _event(self, *event):
        # In order with the messages: what came before it goes first.
        self._flush()
        self._frame(event)

    def _frame(self, frame):
        try:
            self.link.send_bytes(_dumps(frame))
        except OSError:
            pass  # the stub is gone: the loop sees the link closed and ends

    def _flush(self):
        if self.pending:
            batch, self.pending = self.pending, []
            self._frame(("messages", batch))

    def _on_connect(self, client, userdata, flags, reason_code, props):
        if reason_code.is_failure:
            self.say(logging.ERROR, "collector refused by broker: %s" % reason_code)
            return
        self.connection += 1
        self.live = True
        self.retry_delay = RECONNECT_MIN
        self.unreachable_said = False
        client.subscribe("+/+/+", qos=1)
        self._event("connected")

    def _on_subscribe(self, client, userdata, mid, reason_codes, props):
        self._event("subscribed", not any(rc.is_failure for rc in reason_codes))

    def _on_disconnect(self, client, userdata, flags, reason_code, props):
        self.live = False
        # Soon after a connection that worked; slower and slower while the broker refuses us.
        self.retry_at = time.monotonic() + self.retry_delay
        self.retry_delay = min(RECONNECT_MAX, 2 * self.retry_delay)
        if reason_code == 142:  # session taken over: someone else holds our client id
            self.say(logging.ERROR, "collector disconnected by the broker: session taken over")
        self._event("disconnected")

    def _on_message(self, client, userdata, msg):
        # No parsing here; the stub validates.
        if not self.pending:
            self.first_pending = time.monotonic()
        self.pending.append((msg.topic, msg.payload, time.time(), ack_token(self.connection, msg.mid), msg.qos))
        self.received += 1

    def _ack(self, tokens):
        # An ack of a message of an earlier connection would name a message id the
        # broker may have given to another one since: left out, the broker sends it again.
        if not self.live:
            return
        mask = (1 << MID_BITS) - 1
        for token in tokens:
            if token >> MID_BITS == self.connection:
                self.client.ack(token & mask, 1)  # subscribed at QoS 1: nothing comes at 2

    def _read_burst(self):
        c = self.client
        for _ in range(MAX_BURST):
            before = self.received
            # loop_read reads one packet at QoS 0; a turn without a new message
            # (nothing left, or a SUBACK, a PINGRESP) ends the burst.
            if c.loop_read() != mqtt.MQTT_ERR_SUCCESS or self.received == before or c.socket() is None:
                return

    def _try_connect(self, now):
        try:
            self.client.reconnect()
        except (OSError, ValueError) as e:
            self.retry_at = now + self.retry_delay
            self.retry_delay = min(RECONNECT_MAX, 2 * self.retry_delay)
            if self.retry_delay == RECONNECT_MAX and not self.unreachable_said:  # once per outage
                self.unreachable_said = True
                self.say(logging.WARNING, "collector cannot reach the broker %s:%d: %s; trying every %.0f s"
                         % (self.cfg["host"], self.cfg["port"], e, RECONNECT_MAX))

    def _serve_link(self):
        """The stub's frames waiting on the link: False once told to stop or the stub is gone."""
        try:
            while True:
                frame = pickle.loads(self.link.recv_bytes())
                if frame[0] == "ack":
                    self._ack(frame[1])
                elif frame[0] == "publish":
                    self.client.publish(frame[1], frame[2], qos=frame[3])
                elif frame[0] == "pause":
                    # The stub's stop, first half: no more reading; what came is handed
                    # over, and the acks of its last batch still go out on this connection.
                    self.reading = False
                    self._event("paused")
                elif frame[0] == "stop":
                    return False
                if not self.link.poll(0):
                    return True
        except (EOFError, OSError):
            return False

    def run(self):
        cfg, c = self.cfg, self.client
        if cfg["mqtt5"]:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY
            props.ReceiveMaximum = RECEIVE_MAXIMUM
            c.connect_async(cfg["host"], cfg["port"], keepalive=30, clean_start=False, properties=props)
        else:
            c.connect_async(cfg["host"], cfg["port"], keepalive=30)
        link = self.link.fileno()
        while True:
            now = time.monotonic()
            sock = c.socket()
            if sock is None and now >= self.retry_at:
                self._try_connect(now)
                sock = c.socket()
            timeout = TICK if sock is not None else max(0.0, self.retry_at - now)
            if self.pending:
                timeout = min(timeout, max(0.0, self.first_pending + GATHER - now))
            readable, writable, _ = select.select([link] + ([sock] if sock is not None and self.reading else []),
                                                  [sock] if sock is not None and c.want_write() else [], [], timeout)
            if sock is not None and sock in readable:  # (only while reading)
                self._read_burst()
            if link in readable and not self._serve_link():
                break
            if c.socket() is not None:
                if c.want_write():
                    c.loop_write()
                c.loop_misc()  # keepalive: a PINGREQ when due, the link closed if its PINGRESP does not come
            if self.pending and (len(self.pending) >= MAX_BURST
                                 or time.monotonic() - self.first_pending >= GATHER):
                self._flush()
        # Stopping: what came goes to the stub; the acks queued before the stop go out
        # before the DISCONNECT.
        self._flush()
        deadline = time.monotonic() + STOP_TIMEOUT / 2
        while c.socket() is not None and c.want_write() and time.monotonic() < deadline:
            select.select([], [c.socket()], [], 0.1)
            c.loop_write()
        self._say_goodbye(c.socket(), deadline)
        self.link.close()

    @staticmethod
    def _say_goodbye(sock, deadline):
        """DISCONNECT, then read (and drop) what the broker still sends until it closes.
        Not paho's disconnect(): it closes the socket as soon as the packet is written,
        and closing with unread data (messages sent after the pause) resets the
        connection, which can make the broker drop our last acks unread: it would send
        those messages again, counted as duplicates. What is dropped here was not
        acknowledged: the broker sends it again (QoS 1) to the next connection."""
        if sock is None:
            return
        try:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            sock.sendall(DISCONNECT)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except OSError:
            pass


def child_main(argv):
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    link = Connection(int(argv[1]))
    try:
        cfg = pickle.loads(link.recv_bytes())
    except (EOFError, OSError):
        return 0
    if not isinstance(cfg, dict):
        return 0  # stopped before it was started (the stub's start failed)
    _Child(link, cfg).run()
    return 0


# -- the stub's side --------------------------------------------------------------
class Receiver:
    """Starts and talks to the child. Callbacks run in the reader thread:
    on_messages(list of (topic, payload, received, ack token, qos)),
    on_subscribed(); `connected` follows the child's broker connection."""

    def __init__(self, host, port, user, password, client_id, mqtt5, manual_ack, on_messages,
                 on_subscribed=None):
        self.cfg = {"host": host, "port": port, "user": user, "password": password, "client_id": client_id,
                    "mqtt5": mqtt5, "manual_ack": manual_ack}
        self.on_messages = on_messages
        self.on_subscribed = on_subscribed
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # connected, and the broker holds our subscription
        self.restarts = 0
        self.proc = None
        self._link = None
        self._send_lock = threading.Lock()
        self._stopping = threading.Event()
        self._paused = threading.Event()
        self._reader = None

    def launch(self):
        """Start the child, which imports paho meanwhile; it connects once start() sends its
        configuration."""
        if self._link is None:
            self._spawn()

    def start(self):
        self.launch()
        # The password goes over the link, not the command line (`ps` shows that).
        self._send(self.cfg)
        self._reader = threading.Thread(target=self._read_forever, name="collector-receiver", daemon=True)
        self._reader.start()

    def _spawn(self):
        ours, theirs = socket.socketpair()
        for s in (ours, theirs):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, LINK_BUFFER)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, LINK_BUFFER)
        try:
            # -I: the child imports paho from this interpreter's environment and nothing
            # from the working directory or PYTHONPATH.
            self.proc = subprocess.Popen([sys.executable, "-I", os.path.abspath(__file__), str(theirs.fileno())],
                                         pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        self._link = Connection(ours.detach())

    def _send(self, frame):
        link = self._link
        if link is None:
            return False
        try:
            with self._send_lock:
                link.send_bytes(_dumps(frame))
            return True
        except OSError:  # the child is gone; the reader thread says why and starts another
            return False

    def ack(self, tokens):
        """Acknowledge (after their commit) the QoS 1 messages of these tokens."""
        self._send(("ack", tokens))

    def publish(self, topic, payload, qos=1):
        return self.connected.is_set() and self._send(("publish", topic, payload, qos))

    def _read_forever(self):
        delay = RESTART_DELAY
        while True:
            link = self._link
            try:
                while True:
                    frame = pickle.loads(link.recv_bytes())
                    kind = frame[0]
                    if kind == "messages":
                        self.on_messages(frame[1])
                    elif kind == "connected":
                        self.connected.set()
                        delay = RESTART_DELAY
                    elif kind == "disconnected":
                        self.connected.clear()
                        self.subscribed.clear()
                    elif kind == "subscribed":
                        if frame[1]:
                            self.subscribed.set()
                            if self.on_subscribed:
                                self.on_subscribed()
                    elif kind == "log":
                        log.log(frame[1], frame[2])
                    elif kind == "paused":
                        self._paused.set()
            except (EOFError, OSError):
                pass
            self.connected.clear()
            self.subscribed.clear()
            self._link = None
            link.close()
            if self._stopping.is_set():
                return  # stop() waits for the child
            code = self._reap()
            self.restarts += 1
            log.error("collector: its MQTT receiver (pid %d) ended with code %s; starting it again in %.0f s",
                      self.proc.pid, code, delay)
            if self._stopping.wait(delay):
                return
            delay = min(MAX_RESTART_DELAY, 2 * delay)
            try:
                self._spawn()
                self._send(self.cfg)
            except Exception:
                log.exception("collector: starting its MQTT receiver failed")
                return

    def _reap(self):
        """The child's exit code, once it ended (killed if it has not within STOP_TIMEOUT)."""
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.error("collector: its MQTT receiver (pid %d) did not stop; killed", self.proc.pid)
            self.proc.kill()
            return self.proc.wait()

    def pause(self, timeout=STOP_TIMEOUT):
        """Blocking: the child stops reading from the broker and hands over what it
        received (the reader thread passes it on to on_messages before this returns);
        it stays connected, so the acks of that last batch still reach the broker.
        -> False if it did not answer (gone, or not within `timeout` s)."""
        if self._reader is None:
            return False  # never started
        self._paused.clear()
        return self._send(("pause",)) and self._paused.wait(timeout)

    def stop(self):
        """Blocking: the child disconnects and hands over what it still had (the
        reader thread passes it on), then ends; killed if it does not."""
        self._stopping.set()
        if self.proc is None:
            return
        self._send(("stop",))
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT)
        self._reap()
        if self._link is not None:
            self._link.close()
            self._link = None


if __name__ == "__main__":
    sys.exit(child_main(sys.argv))
