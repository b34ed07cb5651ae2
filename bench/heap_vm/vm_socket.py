# Fake `socket` of the in-VM scenario (see fakes.py): a scripted broker in
# place of the MQTT link. What the firmware writes is counted (publishes,
# readings, statuses) and dropped; what it reads is CONNACK, SUBACK, a
# PUBACK for each QoS 1 publish (the outbox's readings), then the
# scenario's orders (Broker).
import json

AF_INET = 2
SOCK_STREAM = 1
IDLE = 40  # empty polls (~200 ms loop turns) before a round is given up on

meter = None
broker = None


def _publish(topic, doc):
    # An MQTT PUBLISH, QoS 0, as a broker sends it.
    body = json.dumps(doc)
    n = 2 + len(topic) + len(body)
    head = bytearray(b"\x30")
    while n > 0x7F:
        head.append((n & 0x7F) | 0x80)
        n >>= 7
    head.append(n)
    return bytes(head) + bytes((len(topic) >> 8, len(topic) & 0xFF)) + topic.encode() + body.encode()


class Broker:
    """The orders, one message a loop turn (a turn's work, hence its garbage,
    is then one order's: see bench/heap32.py), each once the publishes the
    previous ones bring are in (or after IDLE empty polls, counted late)."""

    def __init__(self, base, rounds, frequency=45):
        def order(module, name, value=None):
            doc = {"dest": "all", "order": name}
            if value is not None:
                doc["value"] = value
            return _publish("%s/%s/command" % (base, module), doc)

        # (frame, publishes it brings): an acquire, its module's readings
        # (MCP9808 and SHT3x feed temperature); a status order, one status.
        acquire = [(order("temperature", "acquire"), 2), (order("humidity", "acquire"), 1),
                   (order("luminosity", "acquire"), 1)]
        status = (order("device", "status"), 1)
        script = [(order("temperature", "frequency", frequency), 1), (order("luminosity", "status"), 1)]
        for r in range(rounds):
            if r % 10 == 0:
                script.append(status)
            script += acquire
        script.append(status)
        script.append((order("device", "restart"), 1))
        self.script = script
        self.step = 0
        self.expect = 0
        self.idle = 0
        self.late = 0
        self.turn = -1
        self.connects = 0
        self.publishes = 0
        self.readings = 0
        self.statuses = 0
        self.bytes_out = 0
        self.done = False

    def feed(self, turn):
        """A frame for an empty non-blocking read in loop turn `turn`, or None."""
        if self.step >= len(self.script) or turn == self.turn:
            return None
        if self.publishes < self.expect:
            self.idle += 1
            if self.idle < IDLE:
                return None
            self.late += 1
        frame, n = self.script[self.step]
        self.step += 1
        self.expect = self.publishes + n
        self.idle = 0
        self.turn = turn
        if self.step == len(self.script):
            self.done = True
        return frame


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    return [(AF_INET, SOCK_STREAM, 0, "", (host, port))]


class socket:
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0):
        self._in = b""
        self._pos = 0
        self._blocking = True
        self._next = 0   # what the next write is: 0 any, 1 a topic, 2 a payload's first part, 3 a packet id
        self._qos = 0

    def settimeout(self, t):
        pass

    def setblocking(self, flag):
        self._blocking = flag

    def setsockopt(self, *args):
        pass

    def connect(self, addr):
        broker.connects += 1
        self._in = b"\x20\x02\x00\x00"  # CONNACK, accepted
        self._pos = 0

    def close(self):
        pass

    def write(self, buf, n=None):
        b = broker
        count = len(buf) if n is None else n
        b.bytes_out += count
        step = self._next
        if step == 2:
            # A reading's payload starts {"value" (a str, or a memoryview of
            # an outbox record), a status's {"unitID": compared by item, no copy.
            if buf[2] == "v" or buf[2] == 118:
                b.readings += 1
            else:
                b.statuses += 1
            self._next = 0
            meter.sample("publish")
        elif step == 1:
            self._next = 3 if self._qos else 2
        elif step == 3:
            # Its PUBACK, same packet id, read by the firmware's wait for it.
            self._in = self._in[self._pos:] + b"\x40\x02" + bytes(buf[:2])
            self._pos = 0
            self._next = 2
        elif n is not None and buf[0] & 0xF0 == 0x30:
            b.publishes += 1
            self._qos = (buf[0] >> 1) & 3
            self._next = 1
        elif not isinstance(buf, str) and len(buf) == 4 and buf[0] == 0x82:
            # SUBSCRIBE: its SUBACK, same packet id, QoS 0 granted.
            self._in = self._in[self._pos:] + b"\x90\x03" + bytes(buf[2:4]) + b"\x00"
            self._pos = 0
        return count

    send = write

    def read(self, n):
        if self._pos >= len(self._in):
            if self._blocking:
                raise OSError(110)  # ETIMEDOUT: the broker has nothing to say
            import vm_machine
            frame = broker.feed(vm_machine.turns)
            if frame is None:
                return None
            self._in, self._pos = frame, 0
        p = self._pos
        self._pos = p + n
        meter.sample("read")
        return self._in[p:p + n]

    recv = read
