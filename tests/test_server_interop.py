"""The project's own device core (neocampus.sensocampus, neocampus.payload) against the stub.

CPython with a requests transport: the same portable code the boards run, so a
mismatch between the device side and the server side shows up here first.
"""
import json
import sys

import pytest
import requests

from neocampus import commands, payload, sensocampus
from neocampus.ids import mac_wire, unit_id
from provisioning.stub_process import StubServer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from support.stub_helpers import mqtt_client, wait_until  # noqa: E402

MAC = "24:0A:C4:12:92:F8"


def http(method, url, headers=None, body=None):
    r = requests.request(method, url, headers=headers or {}, data=body, timeout=5)
    return r.status_code, r.content


@pytest.fixture(scope="module")
def stub(tmp_path_factory):
    s = StubServer(tmp_path_factory.mktemp("stub"))
    s.start()
    yield s
    s.stop()
    print(s.output())


def test_boot_twice_publish_every_module_and_log(stub):
    stub.admin.add_device(MAC, location=("Bâtiment U4", "CampusFab"), modules=[
        {"module": "temperature", "frequency": 60, "unit": None, "params": [{"param": "address", "value": 24}]},
        {"module": "airquality", "frequency": 120, "unit": "aq"}])
    with pytest.raises(sensocampus.Unregistered):
        sensocampus.credentials(http, stub.url, "24:0a:c4:00:00:00", {})

    creds, changed = sensocampus.credentials(http, stub.url, MAC, {})
    assert changed and creds["mqtt_login"] == "senso_240ac41292f8" and creds["mqtt_passwd"]
    # Second boot: no password in the answer, the stored one is reused.
    again, changed = sensocampus.credentials(http, stub.url, MAC, creds)
    assert not changed and again["mqtt_passwd"] == creds["mqtt_passwd"]
    with pytest.raises(sensocampus.NoPassword):
        sensocampus.credentials(http, stub.url, MAC, {})

    cfg = sensocampus.config(http, stub.url, creds["mqtt_login"], creds["mqtt_passwd"])
    assert cfg.base_topic == "batiment_u4/campusfab"
    temp, aq = cfg.modules
    assert temp["params"] == {"address": 24} and temp["unit"] is None and temp["frequency"] == 60
    assert aq["unit"] == "aq" and aq["frequency"] == 120
    with pytest.raises(sensocampus.AuthRefused):
        sensocampus.config(http, stub.url, creds["mqtt_login"], "wrong")

    assert sensocampus.log(http, stub.url, creds["mqtt_login"], creds["mqtt_passwd"], "booted: é ok",
                           levelname="WARNING", levelno=30, module="app", funcName="boot", lineno=7) == 200
    logged = stub.admin.logs(MAC)[-1]
    assert (logged["msg"], logged["levelno"], logged["funcName"]) == ("booted: é ok", 30, "boot")

    base = cfg.base_topic
    auto, aq_id = unit_id(MAC), unit_id(MAC, "aq")
    sent = [
        ("temperature", payload.reading("temperature", 21.3754, auto, sub_id=0x18, seq=1), 21.375, "celsius", "24"),
        ("humidity", payload.reading("humidity", 45.6, auto, sub_id=0x44, seq=2), 46, "%r.H.", "68"),
        ("luminosity", payload.reading("luminosity", 312.2, auto, sub_id=0x29, seq=3), 312, "lux", "41"),
        ("noise", payload.reading("noise", 17, auto, input=13, seq=4), 17, "pulses", None),
        ("digital", payload.reading("digital", True, auto, input=5, type="presence", seq=5), True, None, None),
        ("airquality", payload.reading("airquality", 12.5, aq_id, sub_id="pm2_5", seq=6), 12.5, "µg/m3", "pm2_5"),
        ("airquality", payload.reading("airquality", 612, aq_id, sub_id="co2", seq=7), 612, "ppm", "co2"),
    ]
    dev = mqtt_client(stub, creds["mqtt_login"], creds["mqtt_passwd"])
    assert dev.accepted
    for module, text, _, _, _ in sent:
        dev.publish(base + "/" + module, text.encode("utf-8"), qos=0)
    dev.publish(base + "/device", payload.status("device", 1800, 2, payload.format_time((2026, 11, 25, 12, 0, 0)), unit_id=mac_wire(MAC),
                                                 status="running", heap=21000, firmware="261125").encode())
    rows = wait_until(lambda: (lambda r: r if len(r) == len(sent) else None)(stub.admin.readings(topic=base)))
    dev.close()
    assert rows, stub.admin.collector()
    got = [(r["module"], r["value"], r["value_units"], r["subID"], r["seq"]) for r in rows]
    assert got == [(m, v, u, s, i + 1) for i, (m, _, v, u, s) in enumerate(sent)]
    assert all(r["unitID"] == (aq_id if r["module"] == "airquality" else auto) for r in rows)
    status = wait_until(lambda: stub.admin.status(MAC)["device"])
    assert status["status"] == "running" and status["heap"] == 21000
    assert stub.admin.collector()["counters"].get("invalid", 0) == 0


def test_order_reaches_a_device_and_parses(stub):
    creds = {"mqtt_login": "senso_240ac41292f8"}
    stub.admin.reset_credentials(MAC)
    creds, _ = sensocampus.credentials(http, stub.url, MAC, creds)
    base = sensocampus.config(http, stub.url, creds["mqtt_login"], creds["mqtt_passwd"]).base_topic
    dev = mqtt_client(stub, creds["mqtt_login"], creds["mqtt_passwd"])
    dev.subscribe(base + "/+/command")
    stub.admin.order(MAC, "frequency", 900)
    assert dev.wait_for(lambda t, p: t == base + "/device/command")
    dev.close()
    raw = dev.messages[0].payload
    assert json.loads(raw) == {"dest": "24:0A:C4:12:92:F8", "order": "frequency", "value": 900}
    # The device module's unitID is the MAC in wire form: the uppercase dest must still match.
    cmd = commands.parse(raw, mac_wire(MAC), module="device")
    assert cmd is not None and cmd[0] == "frequency" and cmd[1] == 900
