# umqtt.simple 1.3.4 from micropython-lib, forked for the neOSensor firmware:
# the changes are listed in VENDORED.md (each marked "fork:" below).
import socket
import struct
import time

class MQTTException(Exception):
    pass

class MQTTClient:

    # fork: `ssl` is None or an object with wrap_socket(sock, server_hostname=)
    # (an SSLContext, or neosensor.tls), in place of a flag and ssl_params for
    # `ussl`, which MicroPython 1.29 no longer has; `timeout` (seconds) is set
    # on the socket: without one a broker that blackholes the connection hangs
    # the client for good.
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0,
                 ssl=None, timeout=None):
        if port == 0:
            port = 8883 if ssl else 1883
        self.client_id = client_id
        self.sock = None
        self.server = server
        self.port = port
        self.ssl = ssl
        self.timeout = timeout
        self._raw = None  # fork: the TCP socket under TLS, which holds the timeout
        self.pid = 0
        self.cb = None
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.lw_topic = None
        self.lw_msg = None
        self.lw_qos = 0
        self.lw_retain = False
        # fork: publish_parts()'s header (PUBLISH, QoS 0; up to 4 bytes of
        # remaining length, then the topic's length), made once.
        self._pkt = bytearray(b"\x30\0\0\0\0\0\0")

    def _send_str(self, s):
        self.sock.write(struct.pack("!H", len(s)))
        self.sock.write(s)

    def _recv_len(self):
        n = 0
        sh = 0
        while 1:
            b = self.sock.read(1)[0]
            n |= (b & 0x7f) << sh
            if not b & 0x80:
                return n
            sh += 7

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        assert 0 <= qos <= 2
        assert topic
        self.lw_topic = topic
        self.lw_msg = msg
        self.lw_qos = qos
        self.lw_retain = retain

    def connect(self, clean_session=True):
        self.sock = self._raw = socket.socket()
        if self.timeout is not None:
            self.sock.settimeout(self.timeout)
        # fork: TCP_NODELAY (IPPROTO_TCP 6, option 1) where the stack takes it:
        # a PUBLISH goes out in several small writes, and with Nagle each QoS 1
        # publish waited for the broker's delayed ACK (~40 ms) before its end.
        try:
            self.sock.setsockopt(6, 1, 1)
        except Exception:
            pass
        addr = socket.getaddrinfo(self.server, self.port)[0][-1]
        self.sock.connect(addr)
        if self.ssl:
            self.sock = self.ssl.wrap_socket(self.sock, server_hostname=self.server)
        premsg = bytearray(b"\x10\0\0\0\0\0")
        msg = bytearray(b"\x04MQTT\x04\x02\0\0")

        sz = 10 + 2 + len(self.client_id)
        msg[6] = clean_session << 1
        if self.user is not None:
            sz += 2 + len(self.user) + 2 + len(self.pswd)
            msg[6] |= 0xC0
        if self.keepalive:
            assert self.keepalive < 65536
            msg[7] |= self.keepalive >> 8
            msg[8] |= self.keepalive & 0x00FF
        if self.lw_topic:
            sz += 2 + len(self.lw_topic) + 2 + len(self.lw_msg)
            msg[6] |= 0x4 | (self.lw_qos & 0x1) << 3 | (self.lw_qos & 0x2) << 3
            msg[6] |= self.lw_retain << 5

        i = 1
        while sz > 0x7f:
            premsg[i] = (sz & 0x7f) | 0x80
            sz >>= 7
            i += 1
        premsg[i] = sz

        self.sock.write(premsg, i + 2)
        self.sock.write(msg)
        #print(hex(len(msg)), hexlify(msg, ":"))
        self._send_str(self.client_id)
        if self.lw_topic:
            self._send_str(self.lw_topic)
            self._send_str(self.lw_msg)
        if self.user is not None:
            self._send_str(self.user)
            self._send_str(self.pswd)
        resp = self.sock.read(4)
        assert resp[0] == 0x20 and resp[1] == 0x02
        if resp[3] != 0:
            raise MQTTException(resp[3])
        return resp[2] & 1

    def disconnect(self):
        self.sock.write(b"\xe0\0")
        self.sock.close()

    def ping(self):
        self.sock.write(b"\xc0\0")

    def publish(self, topic, msg, retain=False, qos=0):
        pkt = bytearray(b"\x30\0\0\0")
        pkt[0] |= qos << 1 | retain
        sz = 2 + len(topic) + len(msg)
        if qos > 0:
            sz += 2
        assert sz < 2097152
        i = 1
        while sz > 0x7f:
            pkt[i] = (sz & 0x7f) | 0x80
            sz >>= 7
            i += 1
        pkt[i] = sz
        #print(hex(len(pkt)), hexlify(pkt, ":"))
        self.sock.write(pkt, i + 1)
        self._send_str(topic)
        if qos > 0:
            self.pid += 1
            pid = self.pid
            struct.pack_into("!H", pkt, 0, pid)
            self.sock.write(pkt, 2)
        self.sock.write(msg)
        if qos == 1:
            while 1:
                op = self.wait_msg()
                if op == 0x40:
                    sz = self.sock.read(1)
                    assert sz == b"\x02"
                    rcv_pid = self.sock.read(2)
                    rcv_pid = rcv_pid[0] << 8 | rcv_pid[1]
                    if pid == rcv_pid:
                        return
        elif qos == 2:
            assert 0

    # fork: a PUBLISH of a payload given as a list of parts (str, or buffers
    # such as a memoryview), written one by one: no contiguous block for the
    # whole payload. The length of each part is counted first; a MemoryError
    # then leaves nothing written (the stream is whole). QoS 1 waits for the
    # PUBACK at most `timeout` seconds (upstream waits for ever), then raises
    # OSError(110): the caller drops the link and sends again.
    def publish_parts(self, topic, parts, qos=0):
        n = 2 + len(topic) + (2 if qos else 0)
        for p in parts:
            n += len(p.encode()) if isinstance(p, str) else len(p)
        pkt = self._pkt
        pkt[0] = 0x30 | qos << 1
        i = 1
        while n > 0x7f:
            pkt[i] = (n & 0x7f) | 0x80
            n >>= 7
            i += 1
        pkt[i] = n
        pkt[i + 1] = len(topic) >> 8
        pkt[i + 2] = len(topic) & 0xFF
        self.sock.write(pkt, i + 3)
        self.sock.write(topic)
        if qos:
            self.pid = pid = self.pid % 65535 + 1
            pkt[0] = pid >> 8
            pkt[1] = pid & 0xFF
            self.sock.write(pkt, 2)
        for p in parts:
            self.sock.write(p)  # a str is a buffer of its UTF-8 bytes on MicroPython
        if not qos:
            return
        t0 = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), t0) < (self.timeout or 30) * 1000:
            if self.wait_msg() == 0x40:
                r = self.sock.read(3)
                if r[0] == 2 and (r[1] << 8 | r[2]) == pid:
                    return
        raise OSError(110)

    def subscribe(self, topic, qos=0):
        assert self.cb is not None, "Subscribe callback is not set"
        pkt = bytearray(b"\x82\0\0\0")
        self.pid += 1
        struct.pack_into("!BH", pkt, 1, 2 + 2 + len(topic) + 1, self.pid)
        #print(hex(len(pkt)), hexlify(pkt, ":"))
        self.sock.write(pkt)
        self._send_str(topic)
        self.sock.write(qos.to_bytes(1, "little"))
        while 1:
            op = self.wait_msg()
            if op == 0x90:
                resp = self.sock.read(4)
                #print(resp)
                assert resp[1] == pkt[2] and resp[2] == pkt[3]
                if resp[3] == 0x80:
                    raise MQTTException(resp[3])
                return

    # Wait for a single incoming MQTT message and process it.
    # Subscribed messages are delivered to a callback previously
    # set by .set_callback() method. Other (internal) MQTT
    # messages processed internally.
    def wait_msg(self):
        res = self.sock.read(1)
        # fork: back to blocking with the timeout (upstream: for ever; an
        # SSL socket has no settimeout(), its TCP socket holds it).
        self.sock.setblocking(True)
        if self.timeout is not None:
            self._raw.settimeout(self.timeout)
        if res is None:
            return None
        if res == b"":
            raise OSError(-1)
        if res == b"\xd0":  # PINGRESP
            sz = self.sock.read(1)[0]
            assert sz == 0
            return None
        op = res[0]
        if op & 0xf0 != 0x30:
            return op
        sz = self._recv_len()
        topic_len = self.sock.read(2)
        topic_len = (topic_len[0] << 8) | topic_len[1]
        topic = self.sock.read(topic_len)
        sz -= topic_len + 2
        if op & 6:
            pid = self.sock.read(2)
            pid = pid[0] << 8 | pid[1]
            sz -= 2
        msg = self.sock.read(sz)
        self.cb(topic, msg)
        if op & 6 == 2:
            pkt = bytearray(b"\x40\x02\0\0")
            struct.pack_into("!H", pkt, 2, pid)
            self.sock.write(pkt)
        elif op & 6 == 4:
            assert 0

    # Checks whether a pending message from server is available.
    # If not, returns immediately with None. Otherwise, does
    # the same processing as wait_msg.
    def check_msg(self):
        self.sock.setblocking(False)
        return self.wait_msg()
