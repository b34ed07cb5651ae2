MICROPYTHON_MPY = "neocampus, self"

import json

from neocampus.module import Module
from neocampus.params import checked

MAC = "AA:BB:CC:DD:92:F8"
CONF = {"module": "temperature", "unit": "ambiant", "frequency": 10, "driver": None,
        "params": {"delta": 0.5, "stable_reads": "x"}}


def test_readings_go_through_the_policy_into_payloads():
    m = Module("temperature", MAC, CONF, 0)
    assert m.unit_id == "ambiant_92f8" and m.frequency == 30  # 10 s clamped to the module's range
    assert m.topic("u4/302") == "u4/302/temperature"
    i = m.add_sensor(0x18, "MCP9808", 0)
    out = []
    now = 0
    while now < 3000:
        parts = m.feed(i, 21.375, now, seq=7)
        if parts:
            out.append((now, "".join(parts)))
        now += m.sample_interval(now)
    assert len(out) == 1 and out[0][0] <= 2000, out
    assert out[0][1] == ('{"value": 21.375, "value_units": "celsius", "subID": "24", '
                         '"unitID": "ambiant_92f8", "seq": 7}'), out


def test_a_checked_config_through_json_builds_the_same_module():
    # What a board's set-up phase writes to plan.json and its loop phase reads.
    c = json.loads(json.dumps(checked("temperature", MAC, CONF)))
    assert c["unit_id"] == "ambiant_92f8" and c["cfg"][8] == ["stable_reads"]
    assert "cfg" not in CONF  # a copy: the config itself is left as it was
    a, b = Module("temperature", MAC, CONF, 0), Module("temperature", MAC, c, 0)
    assert (b.unit_id, b.cfg, b.frequency) == (a.unit_id, a.cfg, a.frequency)
    assert b.cfg[3] == 0.5 and b.cfg[0] == 7  # delta taken, the bad stable_reads ignored
    assert Module("device", MAC, checked("device", MAC)).unit_id == "aa:bb:cc:dd:92:f8"


def test_commands_change_state_and_count_errors():
    lines = []
    m = Module("temperature", MAC, CONF, 0, log=lines.append)
    m.add_sensor(0x18, "MCP9808", 0)
    m.add_sensor(0x44, "SHT3x", 0)
    cmd = m.command(b'{"dest": "AMBIANT_92F8", "order": "frequency", "value": 5000}')
    assert cmd[0] == "frequency" and cmd[1] == 1800 and m.frequency == 1800
    assert [s[2].frequency for s in m.sensors] == [1800, 1800]
    assert m.sensors[0][2].cfg is m.sensors[1][2].cfg is m.cfg  # one settings tuple per module
    assert m.settings() == {"frequency": 1800}
    assert m.command(b'{"dest": "all", "order": "acquire"}')[0] == "acquire"
    assert m.sample_interval(0) == 0
    assert m.command(b'{"dest": "auto_0001", "order": "status"}') is None and m.foreign == 1
    assert m.command(b"garbage") is None and m.errors == 1
    assert m.command(b'{"dest": "all", "order": "reboot"}') is None and m.errors == 2
    assert lines[0] == "temperature: command ignored: command is not JSON", lines
    doc = json.loads("".join(m.status("2026-11-25 13:40:00 +0000")))
    assert doc == {"unitID": "ambiant_92f8", "frequency": 1800, "sensors": ["MCP9808@24", "SHT3x@68"],
                   "time": "2026-11-25 13:40:00 +0000", "cmd_errors": 2,
                   "ignored_params": ["stable_reads"]}, doc
    m2 = Module("temperature", MAC, None, 0)
    m2.restore({"frequency": 120})
    assert m2.frequency == 120 and m2.unit_id == "auto_92f8"


def test_device_module_uses_the_mac():
    m = Module("device", MAC, {"module": "device"}, 0)
    assert m.unit_id == "aa:bb:cc:dd:92:f8" and m.frequency == 1800
    assert m.command(b'{"dest": "AA:BB:CC:DD:92:F8", "order": "restart"}')[0] == "restart"
    text = "".join(m.status("2026-11-25 13:40:00 +0000", status="running", heap=20000))
    assert text.startswith('{"unitID": "aa:bb:cc:dd:92:f8", "frequency": 1800, "sensors": [], '), text
    assert json.loads(text)["status"] == "running"
