"""The concentrator on socat pty pairs: a board writing JSON lines (with
garbage among them) on one, a pymodbus RTU server on the other; readings
reach the collector with their own unitIDs, garbage is counted, a silent line
and an unplugged one are reported in the device status."""
import json
import os

import pytest

from rpi_agent import fakes, hardware
from support.agent_helpers import AgentThread, agent_doc
from support.payload_shape import check_reading
from support.stub_helpers import mqtt_client, wait_until

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

MAC = "02:aa:bb:cc:00:c0"
GARBAGE = [b"hello\n", b"{\"module\": \"temperature\"\n", b'{"module": "toaster", "value": 1}\n',
           b'{"module": "temperature", "value": "hot", "subID": "t1"}\n', b"\xff\xfe\x00\n", b"[1, 2, 3]\n",
           b'{"module": "temperature", "value": 1, "subID": "t1", "rm": "-rf"}\n', b"x" * 2000 + b"\n"]


@pytest.fixture
def mstub(tmp_path):
    import shutil
    if shutil.which("mosquitto", path="/usr/sbin:/usr/bin:/sbin") is None or shutil.which("socat") is None:
        pytest.skip("needs Mosquitto and socat: `sudo apt-get install mosquitto socat`")
    from provisioning.stub_process import StubServer
    s = StubServer(tmp_path / "stub", broker="mosquitto")
    s.start()
    yield s
    s.stop()
    print(s.output())


def test_serial_and_modbus_readings_garbage_and_unplugged_lines(mstub, tmp_path):
    mstub.admin.add_device(MAC, location="u4/concentrateur")
    user, password = mstub.collector_credentials()
    obs = mqtt_client(mstub, user, password)
    assert obs.subscribe("u4/concentrateur/#") in (0, 1)
    line, rs485, quiet = (fakes.PtyPair(tmp_path, n) for n in ("line", "rs485", "quiet"))

    def lines(n):
        if n < 3:
            yield {"module": "temperature", "value": 20.0 + n, "subID": "t1"}
        elif n == 3:
            yield from GARBAGE
        elif n < 6:
            yield {"module": "digital", "value": n == 4, "input": 3, "type": "open_close"}

    board = fakes.JsonLinesBoard(line.field_end, period=0.2, lines=lines)
    dev = fakes.ModbusDevice(rs485.field_end, device_id=7)
    dev.set_int(10, -55)     # -5.5 degC in tenths, a signed register
    dev.set_float(20, 1234.5)
    dev.start()
    assert dev.ready.wait(5)
    conc = {"serial": [{"port": line.agent_end, "unit": "board"},
                       {"port": quiet.agent_end, "unit": "quiet", "silent_after": 1}],
            "modbus": [{"port": rs485.agent_end, "unit": "meter", "device_id": 7, "period": 0.5, "timeout": 0.5,
                        "registers": [{"address": 10, "type": "int16", "scale": 0.1, "module": "temperature",
                                       "subID": "t10"},
                                      {"address": 20, "type": "float32", "module": "luminosity",
                                       "subID": "l20"}]}]}
    doc = agent_doc(mstub.url, MAC, tmp_path / "state", roles=["concentrator"], concentrator=conc)
    try:
        with AgentThread(doc, hardware.Hardware(None, None, None)) as agent:
            src = {s.cfg["port"]: s for s in agent.concentrator.sources}
            # The board starts talking once the agent has its end open (a pty keeps nothing for nobody).
            assert wait_until(lambda: src[line.agent_end].state == "opened", 5), src[line.agent_end].state
            board.start()
            got = obs.wait_for(lambda t, p: json.loads(p).get("unitID") == "board_00c0", 10, count=5,
                               what="the board's 3 temperatures and 2 digital readings")
            docs = [check_reading(m.topic, m.payload, "board_00c0") for m in got]
            assert [d["value"] for d in docs] == [20.0, 21.0, 22.0, True, False]
            assert docs[3]["type"] == "open_close" and docs[3]["input"] == 3
            meter = obs.wait_for(lambda t, p: json.loads(p).get("unitID") == "meter_00c0", 10, count=2,
                                 what="the Modbus meter's two registers")
            by_sub = {json.loads(m.payload)["subID"]: check_reading(m.topic, m.payload) for m in meter}
            assert by_sub["t10"]["value"] == -5.5 and by_sub["l20"]["value"] == 1234  # lux: an integer
            assert wait_until(lambda: src[line.agent_end].garbage == len(GARBAGE), 5), src[line.agent_end].garbage
            assert wait_until(lambda: src[quiet.agent_end].state == "silent", 5)
            # Unplug the RS-485 adapter: its pty goes away.
            rs485.stop()
            assert wait_until(lambda: src[rs485.agent_end].state == "unplugged", 5)
            mark = obs.mark()
            obs.order("u4/concentrateur/device/command", MAC, "status")
            status = json.loads(obs.wait_for(lambda t, p: t == "u4/concentrateur/device", 5, start=mark,
                                             what="the device status")[0].payload)
            lines_ = status["lines"]
            assert lines_[line.agent_end]["state"] == "ok" and lines_[line.agent_end]["garbage"] == len(GARBAGE)
            assert lines_[quiet.agent_end]["state"] == "silent"
            assert lines_[rs485.agent_end]["state"] == "unplugged"
            assert status["garbage_lines"] == len(GARBAGE)
            # The collector stored the bridged readings under their own unitIDs.
            units = {r["unitID"] for r in mstub.admin.readings(topic="u4/concentrateur")}
            assert {"board_00c0", "meter_00c0"} <= units
    finally:
        board.stop()
        dev.stop()
        for p in (line, rs485, quiet):
            p.stop()
        obs.close()


def test_a_missing_port_is_unplugged_then_opened_and_read_once_it_appears(tmp_path):
    import time
    from rpi_agent.concentrator import REOPEN, SerialLine
    from rpi_agent.wakeup import Wakeup
    cfg = {"port": str(tmp_path / "line-agent"), "baudrate": 9600, "unit": None, "silent_after": 60}
    got = []
    s = SerialLine(cfg, "line_0001", lambda item: got.append(item) or True)
    w = Wakeup()
    t0 = time.monotonic()
    s.start(w)
    assert s.state == "unplugged" and s.next_due() >= t0 + REOPEN  # tried once, not in a loop
    pair = fakes.PtyPair(tmp_path, "line")  # the adapter is plugged in: its path appears
    try:
        s.tick(s.next_due())
        assert s.state == "opened" and s.next_due() is None
        with open(pair.field_end, "wb", buffering=0) as f:
            f.write(b'{"module": "temperature", "value": 21.5, "subID": "t1"}\n{"module": "hum')
            w.wait(2)  # the loop's wait reads the line
            f.write(b'idity", "value": 40, "subID": "h1"}\n')
            deadline = time.monotonic() + 2
            while len(got) < 2 and time.monotonic() < deadline:
                w.wait(0.2)
        assert [(g[1], g[2]) for g in got] == [("temperature", 21.5), ("humidity", 40)]
        pair.stop()  # unplugged while open: the read fails, the port is closed, tried again later
        deadline = time.monotonic() + 2
        while s.state != "unplugged" and time.monotonic() < deadline:
            w.wait(0.2)
        assert s.state == "unplugged" and s.port is None and s.next_due() is not None
    finally:
        s.stop()
        pair.stop()


def test_an_overlong_line_is_one_garbage_line_however_the_reads_cut_it():
    from rpi_agent.concentrator import MAX_LINE, SerialLine
    stream = (b"x" * (4 * MAX_LINE) + b"\n" + b'{"module": "temperature", "value": 21.5, "subID": "t1"}\n'
              + b"y" * (MAX_LINE + 1) + b"\n")
    for size in (1, 7, MAX_LINE - 1, MAX_LINE, MAX_LINE + 1, 4096, len(stream)):
        got = []
        s = SerialLine({"port": "/dev/null", "baudrate": 9600, "unit": None, "silent_after": 60},
                       "line_0001", lambda item: got.append(item) or True)
        for i in range(0, len(stream), size):
            s.feed(stream[i:i + size])
        assert s.garbage == 2, size
        assert [(g[1], g[2]) for g in got] == [("temperature", 21.5)], size
        assert s.buf == b"", size


def test_a_line_that_breaks_the_parser_is_counted_and_the_next_one_read(monkeypatch):
    from rpi_agent import concentrator
    real = concentrator.reading_of

    def fragile(doc):
        if doc.get("subID") == "boom":
            raise RuntimeError("a check nobody wrote")
        return real(doc)

    monkeypatch.setattr(concentrator, "reading_of", fragile)
    got = []
    s = concentrator.SerialLine({"port": "/dev/null", "baudrate": 9600, "unit": None, "silent_after": 60},
                                "line_0001", lambda item: got.append(item) or True)
    s.feed(b'{"module": "temperature", "value": 1, "subID": "boom"}\n'
           b'{"module": "temperature", "value": 2, "subID": "t1"}\n')
    assert s.garbage == 1 and [g[2] for g in got] == [2] and s.state == "ok"
