"""A historic neOSensor's four modules (temperature, humidity, luminosity,
noise) on one board at the firmware's default heap: it boots, builds the
noise driver beside the three I2C sensors and publishes a noise reading."""
import json
import re

import pytest

from harness import need
from toolchain import micropython as upy
from virtual_board import DEFAULT_HEAP, VirtualBoard

pytestmark = [pytest.mark.slow, pytest.mark.micropython]
MAC = "aa:bb:cc:00:55:77"
ROOM = "u3/amphi"
MODULES = [{"module": "temperature"}, {"module": "humidity"}, {"module": "luminosity"},
           {"module": "noise", "params": [{"param": "input", "value": 13}]}]
CHIPS = ["mcp9808@0x18", "sht3x@0x44", "tsl2561@0x39", "mcp47x6@0x60:noise=0.5,pin=13"]


def test_four_module_board_boots_at_default_heap_and_publishes_noise(stub):
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    stub.admin.add_device(MAC, location=ROOM, modules=MODULES)
    with VirtualBoard(MAC, server=stub.url, wifi=("campus", "secret"), heap=DEFAULT_HEAP,
                      broker=(stub.mqtt_host, stub.mqtt_port), chips=CHIPS) as b:
        b.wait_for(r'^pub u3/amphi/device .*"modules": \["temperature", "humidity", "luminosity", "noise"\]', 30)
        n = len(b.lines)
        stub.admin.order(MAC, "acquire", module="noise")
        _, m = b.wait_for(r"^pub u3/amphi/noise (\{\"value\".*)", 10, n)
        r = json.loads(m.group(1))
        assert r["value_units"] == "pulses" and r["input"] == 13
        assert not [line for line in b.lines if re.search(r"Traceback|MemoryError|left out", line)], b.lines
