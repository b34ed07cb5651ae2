"""End to end: the neOSensor firmware on a virtual board (MicroPython unix
port, code in a ROMFS image as deployed) against `neoc server` (embedded broker, then real
Mosquitto): handshake, readings in /api/readings with the values set on the
simulated chips, the publishing policy, orders, persistence across resets.

A board takes 10-20 s to boot on the VM, so each class boots one board (per
broker) and its tests run in order on it, each checking one behaviour. A test
that needs an earlier one's outcome (a state of the board, a value it found)
says so with `run.need(...)` and fails at once naming it when that one did not
pass, rather than timing out on a board in another state."""
import json
import os
import pathlib
import time

import pytest

from toolchain import micropython as upy
from provisioning.stub_process import StubServer
from virtual_board import DEFAULT_HEAP, VirtualBoard
from support.mqtt_observer import Observer

pytestmark = [pytest.mark.slow, pytest.mark.micropython]

MAC = "aa:bb:cc:00:11:22"
ROOM = "u4/302"
# The heap the firmware gets in these runs (code deployed as a ROMFS image,
# as flash-resident code costs a board no heap): DEFAULT_HEAP, the board's
# budget on this 64-bit port (virtual_board/heap.py says how it is
# derived). NEOC_E2E_HEAP and NEOC_E2E_DEPLOY only serve to measure the
# smallest heap per deploy mode.
HEAP = os.environ.get("NEOC_E2E_HEAP", DEFAULT_HEAP)
DEPLOY = os.environ.get("NEOC_E2E_DEPLOY", "romfs")
MODULES = [{"module": "temperature", "frequency": 30}, {"module": "humidity", "frequency": 30},
           {"module": "luminosity", "frequency": 15}]
CHIPS = ["mcp9808@0x18:temperature=21.5", "sht3x@0x44:temperature=22.25,humidity=45",
         "tsl2561@0x39:lux=300"]
# A luminosity frequency in range and unlike the config's 15 s: after a reset
# the board can only know it from its flash.
LUX_FREQUENCY = 20


def _need_tools(broker):
    reason = upy.unavailable_reason()
    if reason:
        from harness import need
        need(reason)
    if broker == "mosquitto":
        from provisioning import mosquitto as mq
        if mq.find("mosquitto") is None or mq.find("mosquitto_passwd") is None:
            from harness import need
            need("Mosquitto is not installed")


def keep_console(board, name):
    """NEOC_E2E_CONSOLE=DIR (set by bench/e2e_repeat.py): the board's whole
    console written there when its class is done, for the bench to count its
    MemoryError lines."""
    where = os.environ.get("NEOC_E2E_CONSOLE")
    if where:
        path = pathlib.Path(where) / ("%s-%d.log" % (name, os.getpid()))
        path.write_text("\n".join(board.lines) + "\n")


def readings(stub, module=None):
    rows = stub.admin.readings(topic=ROOM)
    return [r for r in rows if module is None or r["module"] == module]


from harness import wait_until  # noqa: E402


def on(module, where=None):
    """A predicate for Observer: a message on ROOM/<module> whose JSON satisfies where()."""
    topic = "%s/%s" % (ROOM, module)
    return lambda t, p: t == topic and (where is None or where(json.loads(p)))


def payloads(messages):
    return [json.loads(m.payload) for m in messages]


class Run:
    """One booted board shared by the tests of a class: the tests that passed
    on it and what they found for the next ones."""

    def __init__(self, board, stub):
        self.board, self.stub = board, stub
        self.passed = set()
        self.found = {}

    def need(self, *tests):
        missing = [t for t in tests if t not in self.passed]
        if missing:
            pytest.fail("not checked: needs %s, which did not pass on this board"
                        % ", ".join(missing), pytrace=False)


def _recorded(request, run):
    failed, n = request.session.testsfailed, len(run.board.lines)
    yield run
    # The call phase is reported (and counted) before the fixtures' teardown.
    if request.session.testsfailed == failed:
        run.passed.add(request.node.originalname)
        return
    print("--- board console during the test, after 40 lines before it (boots %s)\n%s"
          % (run.board.boots, "\n".join(run.board.lines[max(0, n - 40):])))
    print("--- stub output\n" + run.stub.output()[-4000:])


# -- a board against `neoc server` ------------------------------------------------
@pytest.fixture(scope="class", params=["embedded", "mosquitto"])
def stub_board(request, tmp_path_factory):
    _need_tools(request.param)
    stub = StubServer(tmp_path_factory.mktemp("stub-" + request.param), broker=request.param)
    stub.start()
    try:
        stub.admin.add_device(MAC, location=ROOM, modules=MODULES)
        board = VirtualBoard(MAC, server=stub.url, wifi=("campus", "secret"), chips=CHIPS,
                             broker=(stub.mqtt_host, stub.mqtt_port), heap=HEAP, deploy=DEPLOY,
                             flash_dir=tmp_path_factory.mktemp("flash-" + request.param), echo=False)
        board.start()
        try:
            yield Run(board, stub)
        finally:
            board.stop()
            keep_console(board, "stub-" + request.param)
    finally:
        stub.stop()


@pytest.fixture
def run(request, stub_board):
    yield from _recorded(request, stub_board)


class TestBoardOnTheStub:
    def test_boots_and_publishes_the_set_values(self, run):
        """Boot, credentials, config, MQTT, readings of the three modules with
        the values set on the simulated chips."""
        i_conn, _ = run.board.wait_for(r"^mqtt: connected", 60)
        got = wait_until(lambda: (lambda r: r if {x["module"] for x in r} >= {"temperature", "humidity", "luminosity"}
                                  else None)(readings(run.stub)), 20, "readings of the three modules")
        by_key = {(r["module"], r["subID"]): r for r in got}
        assert by_key[("temperature", "24")]["value"] == 21.5          # MCP9808 at 0x18
        assert by_key[("temperature", "68")]["value"] == 22.25         # SHT3x at 0x44
        assert by_key[("humidity", "68")]["value"] == 45
        assert abs(by_key[("luminosity", "57")]["value"] - 300) <= 3   # TSL2561 at 0x39
        for r in got:
            assert r["unitID"] == "auto_1122" and isinstance(r["seq"], int)
        run.found.update(i_conn=i_conn, first=got, first_lux=by_key[("luminosity", "57")])

    def test_first_values_within_2_s_of_one_mqtt_connection(self, run):
        """Console times: the first official values follow the connection at once."""
        run.need("test_boots_and_publishes_the_set_values")
        board, i_conn = run.board, run.found["i_conn"]
        i_first, _ = board.wait_for(r"^pub u4/302/(temperature|humidity|luminosity) ", 1, i_conn)
        assert board.times[i_first] - board.times[i_conn] < 2.0, board.times[i_first] - board.times[i_conn]
        assert sum(1 for line in board.lines if line.startswith("mqtt: connected")) == 1

    def test_device_status_names_its_modules_and_board(self, run):
        run.need("test_boots_and_publishes_the_set_values")
        status = wait_until(lambda: run.stub.admin.status(MAC)["device"], 10, "a device status")
        assert status["modules"] == ["temperature", "humidity", "luminosity"]
        assert status["board"] == "esp8266" and status["heap"] > 0

    def test_policy_publishes_a_change_not_unchanged_values(self, run):
        """Luminosity: 15 s apart at least, after a stable window, not before;
        the unchanged temperatures are not sent again."""
        run.need("test_boots_and_publishes_the_set_values")
        stub, first_lux = run.stub, run.found["first_lux"]
        run.board.set(0x39, lux=600)
        t_set = time.time()
        new = wait_until(lambda: [r for r in readings(stub, "luminosity") if r["value"] > 500], 30,
                         "a luminosity reading after the change")
        assert len(readings(stub, "luminosity")) == 2, readings(stub, "luminosity")
        assert new[0]["received_at"] - first_lux["received_at"] >= 15 - 0.5
        assert abs(new[0]["value"] - 600) <= 6
        assert new[0]["received_at"] >= t_set
        assert len(readings(stub, "temperature")) == 2  # unchanged: nothing new

    def test_acquire_order_reads_each_temperature_sensor_at_once(self, run):
        run.need("test_boots_and_publishes_the_set_values")
        stub = run.stub
        t0 = time.time()
        stub.admin.order(MAC, "acquire", module="temperature")
        wait_until(lambda: {r["subID"] for r in readings(stub, "temperature") if r["received_at"] >= t0}
                   >= {"24", "68"}, 5, "a reading of both temperature sensors after acquire")
        assert time.time() - t0 < 5

    def test_module_frequency_order_is_clamped(self, run):
        """luminosity: 15..1800 s; the order is answered by a status."""
        run.need("test_boots_and_publishes_the_set_values")
        n = len(run.board.lines)
        run.stub.admin.order(MAC, "frequency", 1, module="luminosity")
        run.board.wait_for(r'^pub u4/302/luminosity .*"frequency": 15\b', 10, n)

    def test_module_frequency_order_is_taken_and_persisted(self, run):
        run.need("test_boots_and_publishes_the_set_values")
        n = len(run.board.lines)
        run.stub.admin.order(MAC, "frequency", LUX_FREQUENCY, module="luminosity")
        run.board.wait_for(r'^pub u4/302/luminosity .*"frequency": %d\b' % LUX_FREQUENCY, 10, n)
        saved = run.board.flash / "module_luminosity.json"
        assert json.loads(saved.read_text()) == {"frequency": LUX_FREQUENCY}

    def test_device_frequency_order_is_clamped_and_persisted(self, run):
        """device: 900..21600 s."""
        run.need("test_boots_and_publishes_the_set_values")
        n = len(run.board.lines)
        run.stub.admin.order(MAC, "frequency", 60)
        run.board.wait_for(r'^pub u4/302/device .*"frequency": 900\b', 10, n)
        assert json.loads((run.board.flash / "module_device.json").read_text()) == {"frequency": 900}

    def test_device_frequency_persisted_across_a_reboot(self, run):
        """The reboot order: the board boots again, reuses its stored password
        and announces itself starting, with the frequency it was given."""
        run.need("test_device_frequency_order_is_clamped_and_persisted")
        board = run.board
        run.stub.admin.order(MAC, "reboot")
        board.wait_boots(3, 20)   # power, soft (set-up -> loop), then the reboot
        n = len(board.lines)
        board.wait_for(r"^sensocampus: reusing the stored password of senso_aabbcc001122", 30, n)
        board.wait_for(r'^pub u4/302/device .*"status": "starting".*', 30, n)
        i, m = board.wait_for(r'^pub u4/302/device (.*)', 1, n)
        assert json.loads(m.group(1))["frequency"] == 900
        assert json.loads((board.flash / "module_device.json").read_text()) == {"frequency": 900}
        assert board.boots == ["power", "soft", "reset", "soft"]
        run.found["i_rebooted"] = i

    def test_running_status_follows_a_reboot_without_waiting_the_period(self, run):
        """starting -> running is announced at once, not after the 900 s period."""
        run.need("test_device_frequency_persisted_across_a_reboot")
        run.board.wait_for(r'^pub u4/302/device .*"status": "running".*', 10, run.found["i_rebooted"] + 1)

    def test_seq_grows_across_reboots(self, run):
        run.need("test_boots_and_publishes_the_set_values", "test_device_frequency_persisted_across_a_reboot")
        t_rebooted = run.board.times[run.found["i_rebooted"]]
        before = max(r["seq"] for r in run.found["first"])
        after = wait_until(lambda: [r for r in readings(run.stub) if r["received_at"] > t_rebooted], 20,
                           "readings after the reboot")
        assert min(r["seq"] for r in after) > before

    def test_module_frequency_kept_across_a_reboot(self, run):
        run.need("test_module_frequency_order_is_taken_and_persisted",
                 "test_device_frequency_persisted_across_a_reboot")
        n = len(run.board.lines)
        run.stub.admin.order(MAC, "status", module="luminosity")
        run.board.wait_for(r'^pub u4/302/luminosity .*"frequency": %d\b' % LUX_FREQUENCY, 10, n)
        assert run.board.boots == ["power", "soft", "reset", "soft"]  # no reset since


# -- a board against a campus-like Mosquitto --------------------------------------
@pytest.fixture(scope="class")
def campus_board(tmp_path_factory):
    """Module orders need an operator account, which the stub does not hand out:
    the stub does the handshake, a Mosquitto with the registry's device rules
    plus an operator carries MQTT: the device's broker override in the registry
    points there, as the campus registry does for a device on another broker."""
    _need_tools("mosquitto")
    from provisioning.acl import device_rules
    from provisioning.mosquitto import Acl, Mosquitto, free_port
    import requests
    tmp = tmp_path_factory.mktemp("campus")
    stub = StubServer(tmp / "stub", broker="embedded").start()
    broker = board = obs = None
    try:
        port = free_port()
        stub.admin.add_device(MAC, location=ROOM, modules=MODULES, server="127.0.0.1", port=port)
        # The first credentials call, as the board's first boot makes it, then
        # stored on its flash: the board goes on with the stored password.
        creds = requests.get(stub.url + "/device/credentials", params={"mac": MAC}, timeout=10).json()
        acl = Acl().allow("operator", "readwrite", "#")
        for user, access, pattern in device_rules(creds["login"], ROOM):
            acl.allow(user, access, pattern)
        broker = Mosquitto(tmp / "mosquitto", users={creds["login"]: creds["password"], "operator": "op-pass"},
                           acl=acl, port=port).start()
        flash = tmp / "flash"
        flash.mkdir()
        (flash / "sensocampus.json").write_text(json.dumps({"mqtt_login": creds["login"],
                                                            "mqtt_passwd": creds["password"]}))
        obs = Observer(broker.host, broker.port, "operator", "op-pass")
        assert obs.subscribe(ROOM + "/#") in (0, 1)
        board = VirtualBoard(MAC, server=stub.url, wifi=("campus", "secret"),
                             heap=HEAP, deploy=DEPLOY, flash_dir=flash, chips=CHIPS, echo=False)
        board.start()
        run = Run(board, stub)
        run.found.update(creds=creds, port=port, obs=obs)
        yield run
    finally:
        if obs is not None:
            obs.close()
        if board is not None:
            board.stop()
            keep_console(board, "campus")
        if broker is not None:
            broker.stop()
            print("--- mosquitto log\n" + broker.log()[-4000:])
        stub.stop()


@pytest.fixture
def campus(request, campus_board):
    yield from _recorded(request, campus_board)


@pytest.mark.mosquitto
class TestModuleOrdersOnACampusLikeBroker:
    def test_board_reaches_the_broker_its_registry_names(self, campus):
        creds, obs = campus.found["creds"], campus.found["obs"]
        assert (creds["server"], creds["port"]) == ("127.0.0.1", campus.found["port"])
        campus.board.wait_for(r"^sensocampus: reusing the stored password", 60)
        obs.wait_for(on("temperature"), 30, count=2, what="the first temperature readings")

    def test_acquire_gives_an_immediate_reading_from_each_sensor(self, campus):
        campus.need("test_board_reaches_the_broker_its_registry_names")
        obs = campus.found["obs"]
        mark = obs.mark()
        t0 = time.time()
        obs.order(ROOM + "/temperature/command", "AUTO_1122", "acquire")
        got = payloads(obs.wait_for(on("temperature"), 5, mark, what="a reading after acquire"))
        assert got[0]["value"] in (21.5, 22.25)
        assert abs(got[0]["timestamp"] - time.time()) < 5  # UNIX seconds (NTP succeeded)
        assert time.time() - t0 < 3
        obs.wait_for(on("temperature"), 3, mark, count=2, what="both sensors acquired")

    def test_module_frequency_order_is_clamped_answered_and_persisted(self, campus):
        campus.need("test_board_reaches_the_broker_its_registry_names")
        obs, flash = campus.found["obs"], campus.board.flash
        mark = obs.mark()
        obs.order(ROOM + "/luminosity/command", "all", "frequency", 1)
        st = payloads(obs.wait_for(on("luminosity", lambda m: "frequency" in m), 5, mark, what="a status"))
        assert st[0]["frequency"] == 15 and st[0]["unitID"] == "auto_1122"
        assert json.loads((flash / "module_luminosity.json").read_text()) == {"frequency": 15}
        # In range and unlike the config's: what the restart must keep.
        mark = obs.mark()
        obs.order(ROOM + "/luminosity/command", "all", "frequency", LUX_FREQUENCY)
        st = payloads(obs.wait_for(on("luminosity", lambda m: "frequency" in m), 5, mark, what="a status"))
        assert st[0]["frequency"] == LUX_FREQUENCY
        assert json.loads((flash / "module_luminosity.json").read_text()) == {"frequency": LUX_FREQUENCY}

    def test_foreign_and_malformed_commands_are_ignored_and_counted(self, campus):
        campus.need("test_board_reaches_the_broker_its_registry_names")
        obs, board = campus.found["obs"], campus.board
        mark, n = obs.mark(), len(board.lines)
        obs.order(ROOM + "/temperature/command", "auto_9999", "acquire")
        obs.publish(ROOM + "/humidity/command", b"{not json")
        obs.order(ROOM + "/humidity/command", "all", "sing")
        board.wait_for(r"^humidity: command ignored: unknown order", 5, n)
        obs.order(ROOM + "/device/command", MAC.upper(), "status")
        dev = payloads(obs.wait_for(on("device"), 5, mark, what="a device status"))[-1]
        assert dev["bad_commands"] == 2 and dev["foreign_commands"] >= 1 and dev["status"] == "running"
        assert not obs.matching(on("temperature"), mark)

    def test_restart_order_leaves_a_last_will_and_connects_again(self, campus):
        campus.need("test_board_reaches_the_broker_its_registry_names")
        obs, board = campus.found["obs"], campus.board
        mark = obs.mark()
        obs.order(ROOM + "/device/command", MAC, "restart")
        board.wait_boots(3, 20)
        n = len(board.lines)
        board.wait_for(r"^mqtt: connected", 30, n)
        # The broker told the room the board went away (its last will).
        assert any(m.get("status") == "offline" and m["unitID"] == MAC for m in obs.json_on(ROOM + "/device", mark))
        assert board.boots == ["power", "soft", "reset", "soft"]

    def test_module_frequency_survives_a_restart(self, campus):
        campus.need("test_module_frequency_order_is_clamped_answered_and_persisted",
                    "test_restart_order_leaves_a_last_will_and_connects_again")
        obs = campus.found["obs"]
        mark = obs.mark()
        obs.order(ROOM + "/luminosity/command", "all", "status")
        st = payloads(obs.wait_for(on("luminosity", lambda m: "frequency" in m), 5, mark, what="a status"))
        assert st[0]["frequency"] == LUX_FREQUENCY
