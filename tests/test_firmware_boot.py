"""Boot paths of the neOSensor firmware on a virtual board: an unknown device
waits for an admin without a crash loop, an unreachable sensOCampus ends in a
reset after the retries, a Wi-Fi drop is survived."""
import json
import time

import pytest

from harness import need
from toolchain import micropython as upy
from provisioning.mosquitto import free_port
from provisioning.stub_process import StubServer
from virtual_board import DEFAULT_HEAP, VirtualBoard

pytestmark = [pytest.mark.slow, pytest.mark.micropython]
MAC = "aa:bb:cc:00:33:44"
HEAP = DEFAULT_HEAP
# mbedTLS takes its buffers from the MicroPython heap: TLS is for boards with
# an ESP32's room, not an ESP8266's 36k (measured: 48k works, 40k does not).
TLS_HEAP = "64k"


@pytest.fixture
def stub(tmp_path):
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    s = StubServer(tmp_path / "stub", broker="embedded")
    s.start()
    yield s
    s.stop()


def _board(url, broker=None, step=1, **kw):
    return VirtualBoard(MAC, server=url, wifi=("campus", "secret"), broker=broker, heap=HEAP,
                        chips=["mcp9808@0x18:temperature=20.5"], config_extra={"retry_step": step}, **kw)


def test_unknown_device_waits_for_an_admin_then_runs(stub):
    with _board(stub.url, (stub.mqtt_host, stub.mqtt_port)) as b:
        b.wait_for(r"^sensocampus: device aa:bb:cc:00:33:44 is not registered.*retrying in \d+ s", 40)
        b.wait_for(r"not registered", 15, len(b.lines))   # asks again, slowly
        stub.admin.add_device(MAC, location="u4/101", modules=[{"module": "temperature"}])
        b.wait_for(r"^pub u4/101/temperature .*\"value\": 20\.5", 30)
        assert b.boots == ["power", "soft"]                # set-up -> loop; no reset, no crash loop


def test_unreachable_sensocampus_retries_with_growing_delays_then_resets():
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    with _board("http://127.0.0.1:%d" % free_port(), step=0.3) as b:
        b.wait_for(r"^sensocampus: unreachable after 5 tries: reset", 40)
        b.wait_boots(2, 10)
        assert not (b.flash / "crash.count").exists()    # a planned reset is not a crash
        delays = [float(line.rsplit(" ", 2)[-2]) for line in b.lines
                  if line.startswith("sensocampus: try ")][:5]
        assert len(delays) == 5
        for i, d in enumerate(delays):            # step*(i+1) plus up to one step of jitter
            assert 0.3 * (i + 1) - 0.01 <= d <= 0.3 * (i + 2) + 0.01, delays
        assert len(set(round(d - 0.3 * (i + 1), 2) for i, d in enumerate(delays))) > 1  # jitter


def test_wifi_drop_is_survived_on_one_board_boot(stub):
    stub.admin.add_device(MAC, location="u4/101", modules=[{"module": "temperature"}])
    with _board(stub.url, (stub.mqtt_host, stub.mqtt_port)) as b:
        b.wait_for(r"^pub u4/101/temperature ", 40)
        n = len(b.lines)
        b.set_wifi("down")
        b.wait_for(r"^wifi: link lost", 10, n)
        time.sleep(1)
        b.set_wifi("ok")
        b.wait_for(r"^mqtt: connected", 40, n)
        b.wait_for(r"^pub u4/101/device ", 10, n)
        assert b.boots == ["power", "soft"]


def test_digital_inputs_are_published_on_change(stub):
    stub.admin.add_device(MAC, location="u4/101", modules=[
        {"module": "digital", "params": [{"param": "input", "value": 13},
                                         {"param": "type", "value": "presence"}]}])
    with _board(stub.url, (stub.mqtt_host, stub.mqtt_port)) as b:
        b.wait_for(r'^pub u4/101/digital \{"value": false, "input": 13, "type": "presence", '
                   r'"unitID": "auto_3344", "seq": \d+', 40)
        b.set_pin(13, 1)
        b.wait_for(r'^pub u4/101/digital \{"value": true, "input": 13', 5)
        b.set_pin(13, 0)
        b.wait_for(r'^pub u4/101/digital \{"value": false, "input": 13', 5)
        deadline = time.monotonic() + 5
        while True:  # the collector stores them a moment later
            values = [r["value"] for r in stub.admin.readings(topic="u4/101") if r["module"] == "digital"]
            if values[-3:] == [False, True, False] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert values[-3:] == [False, True, False]


def test_a_crash_loop_ends_in_safe_mode_not_a_brick(tmp_path):
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    from toolchain.deploy import deploy, write_config
    flash = tmp_path / "flash"
    deploy(flash, mode="mpy")  # code as files: the broken update replaces one of them
    write_config(flash, "http://127.0.0.1:9", ("campus", "secret"))
    # A broken app (as after a bad update): every boot crashes at once.
    (flash / "neosensor" / "setup.mpy").unlink()
    (flash / "neosensor" / "setup.py").write_text("raise ValueError('broken update')\n")
    with VirtualBoard(MAC, wifi=("campus", "secret"), flash_dir=flash, blank=True, heap=HEAP) as b:
        b.wait_for(r"^neosensor: 5 failed boots in a row: safe mode", 60)
        b.wait_for(r"^portal: safe mode after 5 failed boots in a row: access point neOSensor_3344, "
                   r"set-up form at http://192\.168\.4\.1/ \(Ctrl-C: the REPL\)", 5)
        time.sleep(2)
        assert len(b.boots) == 6                         # it stays up: the portal, and the REPL
        assert sum("broken update" in line for line in b.lines) == 5
        b.send("\x03")
        time.sleep(0.5)
        b.send("print(6*7)\r")
        b.wait_for(r"^42$", 5)
    # The counter stays until a boot reaches a working MQTT link (then it is removed).
    assert (flash / "crash.count").read_text() == "5"


def test_sandbox_mode_skips_sensocampus(mosquitto):
    from provisioning.mosquitto import Acl
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    broker = mosquitto(users={"test": "test"}, acl=Acl().allow("test", "readwrite", "TestTopic/#"))
    with VirtualBoard(MAC, server="http://127.0.0.1:9", wifi=("campus", "secret"), heap=HEAP,
                      broker=(broker.host, broker.port), sandbox=True,
                      chips=["mcp9808@0x18:temperature=20.5"]) as b:
        b.wait_for(r"^sensocampus: sandbox mode, topic TestTopic/neOSensor_3344", 30)
        b.wait_for(r"^mqtt: connected to .* as test$", 10)
        b.wait_for(r'^pub TestTopic/neOSensor_3344/device .*"modules": \["temperature"\]', 5)
        b.wait_for(r'^pub TestTopic/neOSensor_3344/temperature .*"value": 20\.5', 5)
        assert not any("(not sent)" in line for line in b.lines)


def test_firmware_runs_from_py_sources_too(stub):
    stub.admin.add_device(MAC, location="u4/101", modules=[{"module": "temperature"}])
    with VirtualBoard(MAC, server=stub.url, wifi=("campus", "secret"), heap="256k", source=True,
                      broker=(stub.mqtt_host, stub.mqtt_port), chips=["mcp9808@0x18:temperature=20.5"]) as b:
        b.wait_for(r'^pub u4/101/temperature .*"value": 20\.5', 40)
        assert (b.flash / "neosensor" / "app.py").exists() and not (b.flash / "neosensor" / "app.mpy").exists()


def test_airquality_from_an_scd4x_is_published_as_co2_ppm(stub):
    # The SCD4x has a sample every 5 s: a 2-read stable window (a module
    # param) keeps this test short.
    fast = [{"param": "stable_reads", "value": 2}]
    stub.admin.add_device(MAC, location="u4/101", modules=[{"module": "airquality", "params": fast},
                                                           {"module": "temperature", "params": fast}])
    with VirtualBoard(MAC, server=stub.url, wifi=("campus", "secret"), heap=HEAP,
                      broker=(stub.mqtt_host, stub.mqtt_port),
                      chips=["scd4x@0x62:co2=612,temperature=23.5,humidity=40"]) as b:
        b.wait_for(r'^pub u4/101/airquality \{"value": 612, "value_units": "ppm", "subID": "co2", '
                   r'"unitID": "auto_3344"', 60)
        b.wait_for(r'^pub u4/101/temperature \{"value": 23\.(5|49\d), .*"subID": "98"', 15)


def test_broker_restart_reconnects_on_one_link(mosquitto):
    """The link notices the broker going away, closes its socket and comes
    back with backoff; readings go on after the broker returns."""
    from provisioning.mosquitto import Acl
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    broker = mosquitto(users={"test": "test"}, acl=Acl().allow("test", "readwrite", "TestTopic/#"))
    with VirtualBoard(MAC, server="http://127.0.0.1:9", wifi=("campus", "secret"), heap=HEAP,
                      broker=(broker.host, broker.port), sandbox=True,
                      chips=["mcp9808@0x18:temperature=20.5"]) as b:
        b.wait_for(r"^pub TestTopic/neOSensor_3344/temperature ", 30)
        n = len(b.lines)
        broker.stop()
        b.wait_for(r"^mqtt: (link lost|connect to .* failed)", 10, n)
        time.sleep(2)
        broker.start()
        i, _ = b.wait_for(r"^mqtt: connected", 40, n)
        b.wait_for(r'^pub TestTopic/neOSensor_3344/device .*"status": "running".*"mqtt_connects": 2', 5, i)
        b.wait_for(r"^pub TestTopic/neOSensor_3344/temperature .*\"value\": 20\.5", 10, i)
        assert b.boots == ["power", "soft"]


def test_a_silent_broker_times_out_instead_of_hanging_into_the_watchdog():
    """A broker that accepts TCP but never answers CONNECT: the link gives up
    after its 4 s socket timeout and backs off; the watchdog (30 s) never fires."""
    import socket
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    try:
        with VirtualBoard(MAC, server="http://127.0.0.1:9", wifi=("campus", "secret"), heap=HEAP,
                          broker=silent.getsockname(), sandbox=True) as b:
            i, _ = b.wait_for(r"^i2c: ", 30)
            j, _ = b.wait_for(r"^mqtt: connect to 127\.0\.0\.1:\d+ failed", 20, i)
            # From the set-up's scan: its end, the soft reset into the loop, then the 4 s wait.
            assert 4 <= b.times[j] - b.times[i] <= 10
            assert b.boots == ["power", "soft"]
    finally:
        silent.close()


def test_a_corrupt_plan_sends_the_board_back_to_its_set_up_without_a_crash(stub, tmp_path):
    """plan.json is the one file the loop phase trusts from the flash: garbage
    there (a power cut, a bad write) means set-up again, not a crash count."""
    stub.admin.add_device(MAC, location="u4/101", modules=[{"module": "temperature"}])
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "plan_0.json").write_text('[[14, 12], [["drivers.mcp9808", "MCP9808", 24]]]')
    (flash / "plan.json").write_bytes(b'{"mac": "aa:bb', )
    with _board(stub.url, (stub.mqtt_host, stub.mqtt_port), flash_dir=flash) as b:
        b.wait_for(r"^plan\.json unreadable \(.*\): set-up again", 30)
        b.wait_for(r"^setup: done", 30)
        b.wait_for(r'^pub u4/101/temperature .*"value": 20\.5', 30)
        assert b.boots == ["power", "soft", "soft"]
    assert not (flash / "crash.count").exists() and not (flash / "plan.json").exists()


def test_a_corrupt_module_plan_sends_the_board_back_to_its_set_up(stub, tmp_path):
    """The loop phase reads its plan one file at a time (plan_0.json the chips,
    plan.json the board, plan_N.json one module each): a module file that is
    garbage (a power cut while they were written or taken) means set-up
    again, not a crash and not a board running without that module."""
    from neocampus.params import checked
    stub.admin.add_device(MAC, location="u4/101", modules=[{"module": "temperature"}])
    flash = tmp_path / "flash"
    broker = (stub.mqtt_host, stub.mqtt_port)
    with _board(stub.url, broker, flash_dir=flash) as b:  # a first boot for real credentials
        b.wait_for(r"^pub u4/101/temperature ", 30)
    creds = dict(json.loads((flash / "sensocampus.json").read_text()),
                 mqtt_server=stub.mqtt_host, mqtt_port=stub.mqtt_port)
    plan = {"mac": MAC, "base": "u4/101", "creds": creds, "ntp": False, "board": "esp8266",
            "wifi": [{"ssid": "campus", "password": "secret"}],
            "device": checked("device", MAC, {"module": "device"}), "modules": 2}
    (flash / "plan_0.json").write_text(json.dumps([[14, 12], [["drivers.mcp9808", "MCP9808", 0x18]]]))
    (flash / "plan_1.json").write_text(json.dumps(["temperature", checked("temperature", MAC, {"module": "temperature"})]))
    (flash / "plan_2.json").write_text('["luminosity", {"module": "lumi')
    (flash / "plan.json").write_text(json.dumps(plan))
    with _board(stub.url, broker, flash_dir=flash, blank=True) as b:
        b.wait_for(r"^plan_2\.json unreadable \(None\): set-up again$", 30)
        b.wait_for(r"^setup: done", 30)
        b.wait_for(r'^pub u4/101/temperature .*"value": 20\.5', 30)
        assert b.boots == ["power", "soft", "soft"]  # loop phase, set-up, loop phase
        assert not any("crashed" in line for line in b.lines)
    assert not (flash / "crash.count").exists()
    assert not list(flash.glob("plan*.json"))


def test_mqtt_over_tls_verifies_the_broker_with_the_flashed_ca(mosquitto, tmp_path):
    """Broker port 8883-style: a TLS listener, "tls" in config.json's broker,
    ca.pem on the flash. A CA that did not sign the broker's certificate is
    a failed connection, retried, never a crash."""
    from harness import make_tls_files
    from provisioning.mosquitto import Acl
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    files = make_tls_files(tmp_path)
    broker = mosquitto(users={"test": "test"}, acl=Acl().allow("test", "readwrite", "TestTopic/#"),
                       tls=(files["ca"], files["cert"], files["key"]))
    for ca, good in ((files["ca"], True), (make_tls_files(tmp_path, "other")["ca"], False)):
        flash = tmp_path / ("flash-%s" % good)
        flash.mkdir()
        (flash / "ca.pem").write_bytes(ca.read_bytes())
        with VirtualBoard(MAC, server="http://127.0.0.1:9", wifi=("campus", "secret"), heap=TLS_HEAP,
                          sandbox=True, flash_dir=flash, chips=["mcp9808@0x18:temperature=20.5"],
                          config_extra={"broker": {"server": broker.host, "port": broker.tls_port,
                                                   "tls": True}}) as b:
            if good:
                b.wait_for(r"^mqtt: connected to 127\.0\.0\.1:%d as test over TLS$" % broker.tls_port, 30)
                b.wait_for(r'^pub TestTopic/neOSensor_3344/temperature .*"value": 20\.5', 10)
            else:
                b.wait_for(r"^mqtt: connect to 127\.0\.0\.1:%d failed: OSError\('TLS: " % broker.tls_port, 30)
                b.wait_for(r"^mqtt: connect to .* failed", 10, start=len(b.lines))  # retried
                assert not any("crashed" in line for line in b.lines)
