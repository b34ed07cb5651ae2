"""A simulated agent on the stub and a real Mosquitto: TSL2591 + BME280 through
the Adafruit drivers on drivers.sim, an MCP9808 through drivers/, a PIR on
gpiozero's mock pins; readings in the firmware's shape; a `set` order drives
a mock output; hostile orders are counted, never a crash; /metrics answers."""
import json

import pytest
import requests

from neocampus import payload
from rpi_agent import hardware
from support.agent_helpers import AgentThread, agent_doc
from support.payload_shape import check_reading
from support.stub_helpers import mqtt_client, wait_until

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

MAC = "02:aa:bb:cc:00:14"
UNIT = "auto_0014"


@pytest.fixture(scope="module")
def mstub(tmp_path_factory):
    import shutil
    if shutil.which("mosquitto", path="/usr/sbin:/usr/bin:/sbin") is None:
        pytest.skip("Mosquitto is not installed: `sudo apt-get install mosquitto`")
    from provisioning.stub_process import StubServer
    s = StubServer(tmp_path_factory.mktemp("stub"), broker="mosquitto")
    s.start()
    yield s
    s.stop()
    print(s.output())


@pytest.fixture(scope="module")
def running(mstub, tmp_path_factory):
    mstub.admin.add_device(MAC, location="u4/302", modules=["temperature", "humidity", "luminosity", "digital"])
    user, password = mstub.collector_credentials()
    obs = mqtt_client(mstub, user, password)
    assert obs.subscribe("u4/302/#") in (0, 1)
    hw = hardware.simulated()
    doc = agent_doc(mstub.url, MAC, tmp_path_factory.mktemp("state"),
                    sensors={"inputs": [{"pin": 17, "type": "presence"}],
                             "outputs": [{"name": "lamp", "pin": 27, "kind": "led"},
                                         {"name": "fan", "pin": 22, "kind": "relay"}]})
    with AgentThread(doc, hw) as agent:
        yield agent, hw, obs
    obs.close()


def _readings(obs, module):
    return [(m.topic, m.payload) for m in obs.messages if m.topic == "u4/302/" + module]


def test_chips_publish_in_the_firmware_shape(running):
    agent, hw, obs = running
    for module in ("temperature", "humidity", "luminosity"):
        obs.wait_for(lambda t, p, module=module: t == "u4/302/" + module, 10, what=module)
    docs = [check_reading(t, p, UNIT) for mod in ("temperature", "humidity", "luminosity")
            for t, p in _readings(obs, mod)]
    temps = {d["subID"]: d["value"] for d in docs if "celsius" == d.get("value_units")}
    # MCP9808 at 0x18 (24) through drivers/, BME280 at 0x77 (119) through Adafruit's driver.
    assert abs(temps["24"] - hw.models[0x18].temperature) < 0.2, temps
    assert abs(temps["119"] - hw.models[0x77].temperature) < 0.2, temps
    lux = [d for d in docs if d.get("value_units") == "lux"][0]
    assert lux["subID"] == "41" and abs(lux["value"] - hw.models[0x29].lux) <= 0.03 * hw.models[0x29].lux + 2
    assert {type(c).__name__ for c in agent.sensors.found} == {"MCP9808", "AdafruitTSL2591", "AdafruitBME280"}
    seqs = [d["seq"] for d in docs]
    assert len(set(seqs)) == len(seqs)
    # The same check holds for what neocampus.payload writes for the firmware.
    check_reading("u4/302/temperature", payload.reading("temperature", 21.5, UNIT, 24, 7, 1700000000), UNIT)


def test_pir_on_the_mock_pin_gives_presence_readings(running):
    agent, hw, obs = running
    first = obs.wait_for(lambda t, p: t == "u4/302/digital", 10, what="the PIR's level at connection")[0]
    assert check_reading(first.topic, first.payload, UNIT)["value"] is False
    mark = obs.mark()
    hw.pin_factory.pin(17).drive_high()
    got = obs.wait_for(lambda t, p: t == "u4/302/digital" and json.loads(p)["value"] is True, 5, start=mark,
                       what="a presence reading")[0]
    doc = check_reading(got.topic, got.payload, UNIT)
    assert doc["input"] == 17 and doc["type"] == "presence"
    hw.pin_factory.pin(17).drive_low()
    obs.wait_for(lambda t, p: t == "u4/302/digital" and json.loads(p)["value"] is False, 5, start=mark,
                 what="the PIR back to rest")


def test_set_order_drives_a_mock_output(running):
    agent, hw, obs = running
    lamp = hw.pin_factory.pin(27)
    assert lamp.state is False or lamp.state == 0
    obs.publish("u4/302/digital/command", {"dest": UNIT, "order": "set", "value": True, "output": "lamp"})
    assert wait_until(lambda: lamp.state == 1, 5), lamp.state
    assert hw.pin_factory.pin(22).state == 0  # the other output untouched
    status = obs.wait_for(lambda t, p: t == "u4/302/digital" and '"outputs"' in p.decode(), 5, what="digital status")[-1]
    assert json.loads(status.payload)["outputs"] == {"fan": False, "lamp": True}
    obs.publish("u4/302/digital/command", {"dest": "all", "order": "set", "value": False, "output": "lamp"})
    assert wait_until(lambda: lamp.state == 0, 5)


HOSTILE = [b"", b"not json", b"[1, 2]", b'{"dest": 5}', b'{"dest": "all", "order": "explode"}',
           b'{"dest": "all", "order": "frequency", "value": "NaN"}', b'{"dest": "all", "order": "set", "value": 7}',
           b'{"dest": "all", "order": "set", "value": true, "output": "../../etc"}', b"\xff\xfe" * 300,
           b'{"dest": "all", "order": "frequency", "value": 1e400}', b'{"dest": "all", "order": "set"}']


def test_hostile_orders_are_counted_and_the_agent_goes_on(running):
    agent, hw, obs = running
    before = sum(m.errors for m in agent.modules)
    for topic in ("u4/302/digital/command", "u4/302/temperature/command", "u4/302/nosuch/command",
                  "u4/302/device/command"):
        for raw in HOSTILE:
            obs.publish(topic, raw)
    n = 4 * len(HOSTILE)  # every one refused, on every module topic
    assert wait_until(lambda: sum(m.errors for m in agent.modules) - before >= n, 10), \
        sum(m.errors for m in agent.modules) - before
    # Still alive and obeying: a status order on the device module gets an answer.
    mark = obs.mark()
    obs.order("u4/302/device/command", MAC, "status")
    got = obs.wait_for(lambda t, p: t == "u4/302/device" and '"status": "running"' in p.decode(), 10, start=mark,
                       what="a device status after the hostile orders")[0]
    doc = json.loads(got.payload)
    assert doc["unitID"] == MAC and doc["bad_commands"] >= n and doc["firmware"].startswith("rpi_agent")
    metrics = requests.get("http://127.0.0.1:%d/metrics" % agent.metrics_port, timeout=5).text
    assert 'neoc_agent_bad_input_total{kind="order"}' in metrics


def test_metrics_count_what_was_sent(running):
    agent, hw, obs = running
    text = requests.get("http://127.0.0.1:%d/metrics" % agent.metrics_port, timeout=5).text
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
              if line and not line.startswith("#")}
    assert values["neoc_agent_readings_sent_total"] >= 4
    assert values["neoc_agent_readings_sent_total"] == agent.transport.sent
    assert 0 < values["neoc_agent_handshake_seconds"] < 10
    for name in ("neoc_agent_readings_queued", "neoc_agent_readings_dropped", "neoc_agent_mqtt_reconnects_total",
                 "neoc_agent_outbox_bytes"):
        assert name in values, name


def test_the_loop_sleeps_between_its_deadlines_and_the_outbox_reaches_the_disk(running, monkeypatch):
    """No polling: the loop wakes for a chip read, a GPIO edge, an order, a
    PUBACK while a backlog drains, its 1 s cap; not every 10 or 50 ms."""
    import os
    import time
    from rpi_agent.outbox import SEQ_RESERVE
    agent, hw, obs = running
    synced = []
    real = os.fdatasync
    # From a moment the readings stored before the connection have gone (those waited for it: fsync'd).
    assert wait_until(lambda: agent.transport.sent >= 2 and agent.outbox.sync_due() is None, 10), "no PUBACK"
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd)))
    assert agent.outbox.window == 0.05
    # 10 s instead of 0.05 for these 3 s: a PUBACK slowed by a loaded machine would be fsync'd, as it should.
    monkeypatch.setattr(agent.outbox, "window", 10.0)
    stored, sent = agent.outbox.last_id, agent.transport.sent
    turns = []
    step = agent.step
    agent.step = lambda now: turns.append(now) or step(now)
    try:
        for level in (1, 0, 1, 0):  # four presence readings, the chips' own beside them
            time.sleep(0.75)
            pin = hw.pin_factory.pin(17)
            pin.drive_high() if level else pin.drive_low()
        time.sleep(0.25)
    finally:
        del agent.step
    print("loop turns in 3 s:", len(turns))
    assert 2 <= len(turns) <= 30, "%d loop turns in 3 s" % len(turns)
    # outbox.sync = "ack" (the default): a reading is fsync'd only if its PUBACK has not come
    # within the window, so the readings of these 3 s cost no fsync (but one per SEQ_RESERVE
    # for the seqs reserved on the disk).
    stored, sent = agent.outbox.last_id - stored, agent.transport.sent - sent
    print("readings stored in 3 s:", stored, "sent:", sent, "fsyncs:", len(synced))
    assert agent.cfg["outbox"]["sync"] == "ack"
    assert stored >= 3 and sent >= stored - 1, "too few readings to say"
    # Within 2 s of a 10 s window only the PUBACKs can have called the fsync off.
    assert wait_until(lambda: agent.outbox.sync_due() is None, 2), "acknowledged readings still wait for an fsync"
    assert len(synced) <= 1 + stored // SEQ_RESERVE, "%d fsyncs for %d readings acked" % (len(synced), stored)
    with agent.outbox._lock:  # the loop's connection: not between its statements
        assert agent.outbox.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
