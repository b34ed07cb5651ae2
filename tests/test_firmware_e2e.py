"""End to end: the neOSensor firmware on a virtual board (MicroPython unix
port, code in a ROMFS image as deployed) against `neoc server` (embedded broker, then real
Mosquitto): handshake, readings in /api/readings with the values set on the
simulated chips, the publishing policy, orders, persistence across resets."""
import json
import os
import threading
import time

import pytest

from neoc import micropython as upy
from provisioning.stub_process import StubServer
from provisioning.virtual_board import DEFAULT_HEAP, VirtualBoard

pytestmark = [pytest.mark.slow, pytest.mark.micropython]

MAC = "aa:bb:cc:00:11:22"
ROOM = "u4/302"
# The heap the firmware gets in these runs (code deployed as a ROMFS image,
# as flash-resident code costs a board no heap): DEFAULT_HEAP, the ESP8266's
# 36k that the issue asks for (35k fails on this 64-bit port). NEOC_E2E_HEAP
# and NEOC_E2E_DEPLOY only serve to measure the smallest heap per deploy mode.
HEAP = os.environ.get("NEOC_E2E_HEAP", DEFAULT_HEAP)
DEPLOY = os.environ.get("NEOC_E2E_DEPLOY", "romfs")
MODULES = [{"module": "temperature", "frequency": 30}, {"module": "humidity", "frequency": 30},
           {"module": "luminosity", "frequency": 15}]
CHIPS = ["mcp9808@0x18:temperature=21.5", "sht3x@0x44:temperature=22.25,humidity=45",
         "tsl2561@0x39:lux=300"]


def _need_tools(broker):
    reason = upy.unavailable_reason()
    if reason:
        from harness import need
        need(reason)
    if broker == "mosquitto":
        from provisioning import mosquitto as mq
        if mq.find("mosquitto") is None:
            from harness import need
            need("Mosquitto is not installed")


@pytest.fixture(params=["embedded", "mosquitto"])
def stub(request, tmp_path):
    _need_tools(request.param)
    s = StubServer(tmp_path / "stub", broker=request.param)
    s.start()
    yield s
    s.stop()
    print("--- stub output\n" + s.output()[-4000:])


@pytest.fixture
def board_factory(tmp_path):
    boards = []

    def make(stub, **kw):
        kw.setdefault("chips", CHIPS)
        b = VirtualBoard(MAC, server=stub.url, wifi=("campus", "secret"),
                         broker=(stub.mqtt_host, stub.mqtt_port), heap=HEAP, deploy=DEPLOY,
                         flash_dir=tmp_path / "flash", **kw)
        boards.append(b)
        return b.start()

    make.boards = boards
    yield make
    for b in boards:
        b.stop()
        print("--- board console\n" + "\n".join(b.lines[-150:]))


def readings(stub, module=None):
    rows = stub.admin.readings(topic=ROOM)
    return [r for r in rows if module is None or r["module"] == module]


def wait_until(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("timed out (%.0f s) waiting for %s" % (timeout, what))


def test_board_boots_publishes_follows_the_policy_and_keeps_its_state(stub, board_factory):
    stub.admin.add_device(MAC, location=ROOM, modules=MODULES)
    board = board_factory(stub)

    # Boot, credentials, config, ONE MQTT connection, readings of the three modules.
    i_conn, _ = board.wait_for(r"^mqtt: connected", 60)
    t_conn = board.times[i_conn]
    got = wait_until(lambda: (lambda r: r if {x["module"] for x in r} >= {"temperature", "humidity", "luminosity"}
                              else None)(readings(stub)), 20, "readings of the three modules")
    by_key = {(r["module"], r["subID"]): r for r in got}
    assert by_key[("temperature", "24")]["value"] == 21.5          # MCP9808 at 0x18
    assert by_key[("temperature", "68")]["value"] == 22.25         # SHT3x at 0x44
    assert by_key[("humidity", "68")]["value"] == 45
    assert abs(by_key[("luminosity", "57")]["value"] - 300) <= 3   # TSL2561 at 0x39
    for r in got:
        assert r["unitID"] == "auto_1122" and isinstance(r["seq"], int)
    # First official values within 2 s of the MQTT connection (console times).
    i_first, _ = board.wait_for(r"^pub u4/302/(temperature|humidity|luminosity) ", 1, i_conn)
    assert board.times[i_first] - t_conn < 2.0, board.times[i_first] - t_conn
    assert sum(1 for line in board.lines if line.startswith("mqtt: connected")) == 1

    # The device status: starting, then its modules, heap, firmware, board.
    status = wait_until(lambda: stub.admin.status(MAC)["device"], 10, "a device status")
    assert status["modules"] == ["temperature", "humidity", "luminosity"]
    assert status["board"] == "esp8266" and status["heap"] > 0

    # A change on a chip: published by the policy (luminosity: 15 s apart at
    # least, after a stable window), not before; unchanged values are not sent.
    first_lux = by_key[("luminosity", "57")]
    board.set(0x39, lux=600)
    t_set = time.time()
    new = wait_until(lambda: [r for r in readings(stub, "luminosity") if r["value"] > 500], 30,
                     "a luminosity reading after the change")
    assert len(readings(stub, "luminosity")) == 2, readings(stub, "luminosity")
    assert new[0]["received_at"] - first_lux["received_at"] >= 15 - 0.5
    assert abs(new[0]["value"] - 600) <= 6
    assert new[0]["received_at"] >= t_set
    assert len(readings(stub, "temperature")) == 2  # unchanged: nothing new

    # Module orders through the stub: acquire gives an immediate reading from
    # each temperature sensor; a frequency is clamped (luminosity: 15..1800 s).
    t0 = time.time()
    stub.admin.order(MAC, "acquire", module="temperature")
    wait_until(lambda: len(readings(stub, "temperature")) >= 4, 5, "readings after acquire")
    assert time.time() - t0 < 5
    stub.admin.order(MAC, "frequency", 1, module="luminosity")
    board.wait_for(r'^pub u4/302/luminosity .*"frequency": 15', 10)

    # Device frequency order: clamped to 900..21600 s, persisted, kept across a reset.
    stub.admin.order(MAC, "frequency", 60)
    board.wait_for(r'^pub u4/302/device .*"frequency": 900', 10)
    stub.admin.order(MAC, "reboot")
    board.wait_boots(3, 20)   # power, soft (set-up -> loop), then the reboot
    n = len(board.lines)
    board.wait_for(r"^sensocampus: reusing the stored password of senso_aabbcc001122", 30, n)
    board.wait_for(r'^pub u4/302/device .*"status": "starting".*', 30, n)
    i, m = board.wait_for(r'^pub u4/302/device (.*)', 1, n)
    assert json.loads(m.group(1))["frequency"] == 900
    # The change starting -> running is announced without waiting for the 900 s period.
    board.wait_for(r'^pub u4/302/device .*"status": "running".*', 10, i + 1)
    # seq keeps growing across the reboot.
    before = max(r["seq"] for r in got)
    after = wait_until(lambda: [r for r in readings(stub) if r["received_at"] > board.times[i]], 20,
                       "readings after the reboot")
    assert min(r["seq"] for r in after) > before
    assert json.loads((board.flash / "module_device.json").read_text()) == {"frequency": 900}
    n = len(board.lines)
    stub.admin.order(MAC, "status", module="luminosity")
    board.wait_for(r'^pub u4/302/luminosity .*"frequency": 15', 10, n)   # kept across the reset
    assert board.boots == ["power", "soft", "reset", "soft"]


class Observer:
    """An operator's MQTT client: sees everything in the room, sends orders."""

    def __init__(self, broker, user, password):
        import paho.mqtt.client as mqtt
        self.messages = []
        self._subscribed = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.c.username_pw_set(user, password)
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe(ROOM + "/#")
        self.c.on_subscribe = lambda *a: self._subscribed.set()
        self.c.on_message = lambda c, u, m: self.messages.append((time.time(), m.topic, m.payload))
        self.c.connect(broker.host, broker.port)
        self.c.loop_start()
        assert self._subscribed.wait(10)

    def order(self, module, dest, order, value=None):
        body = {"dest": dest, "order": order}
        if value is not None:
            body["value"] = value
        self.c.publish("%s/%s/command" % (ROOM, module), json.dumps(body)).wait_for_publish(5)

    def on(self, module, since=0.0):
        out = []
        for t, topic, payload in list(self.messages):
            if topic == "%s/%s" % (ROOM, module) and t >= since:
                out.append(json.loads(payload))
        return out

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


@pytest.mark.mosquitto
def test_module_orders_on_a_campus_like_broker(tmp_path, mosquitto, board_factory):
    """Module orders need an operator account, which the stub does not hand out:
    the stub does the handshake, a Mosquitto with the registry's device rules
    plus an operator carries MQTT: the device's broker override in the registry
    points there, as the campus registry does for a device on another broker."""
    _need_tools("mosquitto")
    from provisioning.acl import device_rules
    from provisioning.mosquitto import Acl, free_port
    import requests
    stub = StubServer(tmp_path / "stub", broker="embedded").start()
    try:
        port = free_port()
        stub.admin.add_device(MAC, location=ROOM, modules=MODULES, server="127.0.0.1", port=port)
        # The first credentials call, as the board's first boot makes it, then
        # stored on its flash: the board goes on with the stored password.
        creds = requests.get(stub.url + "/device/credentials", params={"mac": MAC}, timeout=10).json()
        assert (creds["server"], creds["port"]) == ("127.0.0.1", port)
        acl = Acl().allow("operator", "readwrite", "#")
        for user, access, pattern in device_rules(creds["login"], ROOM):
            acl.allow(user, access, pattern)
        broker = mosquitto(users={creds["login"]: creds["password"], "operator": "op-pass"}, acl=acl, port=port)
        flash = tmp_path / "flash"
        flash.mkdir()
        (flash / "sensocampus.json").write_text(json.dumps({"mqtt_login": creds["login"],
                                                            "mqtt_passwd": creds["password"]}))
        obs = Observer(broker, "operator", "op-pass")
        board = VirtualBoard(MAC, server=stub.url, wifi=("campus", "secret"),
                             heap=HEAP, deploy=DEPLOY, flash_dir=flash, chips=CHIPS)
        board_factory.boards.append(board)
        board.start()
        board.wait_for(r"^sensocampus: reusing the stored password", 60)
        wait_until(lambda: len(obs.on("temperature")) >= 2, 30, "first temperature readings")

        # acquire: an immediate reading from each temperature sensor.
        t0 = time.time()
        obs.order("temperature", "AUTO_1122", "acquire")
        got = wait_until(lambda: obs.on("temperature", t0), 5, "readings after acquire")
        assert got[0]["value"] in (21.5, 22.25)
        assert abs(got[0]["timestamp"] - time.time()) < 5  # UNIX seconds (NTP succeeded)
        assert time.time() - t0 < 3
        wait_until(lambda: len(obs.on("temperature", t0)) >= 2, 3, "both sensors acquired")

        # frequency: clamped to the module's range, answered by a status, persisted.
        t1 = time.time()
        obs.order("luminosity", "all", "frequency", 1)
        st = wait_until(lambda: [m for m in obs.on("luminosity", t1) if "frequency" in m], 5, "status")
        assert st[0]["frequency"] == 15 and st[0]["unitID"] == "auto_1122"
        assert json.loads((flash / "module_luminosity.json").read_text()) == {"frequency": 15}

        # Foreign and malformed commands: ignored, counted in the device status.
        t2 = time.time()
        obs.order("temperature", "auto_9999", "acquire")
        obs.c.publish(ROOM + "/humidity/command", b"{not json").wait_for_publish(5)
        obs.order("humidity", "all", "sing")
        board.wait_for(r"^humidity: command ignored: unknown order", 5)
        obs.order("device", MAC.upper(), "status")
        dev = wait_until(lambda: obs.on("device", t2), 5, "a device status")[-1]
        assert dev["bad_commands"] == 2 and dev["foreign_commands"] >= 1 and dev["status"] == "running"
        assert not obs.on("temperature", t2)

        # The frequency survives a reset (a device restart order).
        obs.order("device", MAC, "restart")
        t_restart = time.time()
        board.wait_boots(3, 20)
        n = len(board.lines)
        board.wait_for(r"^mqtt: connected", 30, n)
        # The broker told the room the board went away (its last will).
        assert any(m.get("status") == "offline" and m["unitID"] == MAC
                   for m in obs.on("device", t_restart))
        t3 = time.time()
        obs.order("luminosity", "all", "status")
        st = wait_until(lambda: [m for m in obs.on("luminosity", t3) if "frequency" in m], 5, "status")
        assert st[0]["frequency"] == 15
        obs.close()
    finally:
        stub.stop()
