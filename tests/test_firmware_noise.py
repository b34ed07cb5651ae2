"""The noise module on a virtual board: the comparator's pulses counted on a
GPIO by an interrupt, published as readings; `threshold` and `sensitivity`
orders set the MCP47x6 DAC (checked on the simulated chip's register), are
kept across a reset and shown in the module's status."""
import json
import re
import time

import pytest

from harness import need
from toolchain import micropython as upy
from virtual_board import DEFAULT_HEAP, VirtualBoard

pytestmark = [pytest.mark.slow, pytest.mark.micropython]
MAC = "aa:bb:cc:00:55:66"
ROOM = "u3/amphi"
NOISE = {"module": "noise", "params": [{"param": "input", "value": 13}]}


def _acquire(stub, board):
    n = len(board.lines)
    stub.admin.order(MAC, "acquire", module="noise")
    _, m = board.wait_for(r"^pub u3/amphi/noise (\{\"value\".*)", 10, n)
    return json.loads(m.group(1))


def test_noise_pulses_follow_the_dac_threshold_set_by_orders(stub):   # conftest's embedded stub
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    stub.admin.add_device(MAC, location=ROOM, modules=[NOISE])
    # Microphone envelope at 0.8 of the DAC reference; the comparator on GPIO 13.
    with VirtualBoard(MAC, server=stub.url, wifi=("campus", "secret"), heap=DEFAULT_HEAP,
                      broker=(stub.mqtt_host, stub.mqtt_port),
                      chips=["mcp47x6@0x60:noise=0.8,pin=13"]) as b:
        b.wait_for(r"^i2c: MCP47x6@0x60", 30)
        b.wait_for(r'^pub u3/amphi/device .*"modules": \["noise"\]', 30)
        dac = b.hw.model(0x60)
        assert dac.dac == 2048              # first boot: half the reference
        time.sleep(1.0)
        r = _acquire(stub, b)
        # 200 pulses/s per unit above the threshold: (0.8 - 0.5) * 200 = 60/s.
        assert r["value_units"] == "pulses" and r["input"] == 13 and r["subID"] == "96"
        assert r["unitID"] == "auto_5566" and r["value"] > 20, r

        # The highest threshold: the comparator stays quiet.
        n = len(b.lines)
        stub.admin.order(MAC, "threshold", 4095, module="noise")
        _, m = b.wait_for(r"^pub u3/amphi/noise (\{\"unitID\".*)", 10, n)
        st = json.loads(m.group(1))
        assert st["threshold"] == 4095 and st["sensitivity"] == 0 and st["input"] == 13
        assert dac.dac == 4095
        _acquire(stub, b)                   # what was counted before the change
        time.sleep(1.0)
        assert _acquire(stub, b)["value"] == 0

        # Sensitivity 100 %: threshold 0, every peak counts; kept on the flash.
        stub.admin.order(MAC, "sensitivity", 100, module="noise")
        b.wait_for(r'^pub u3/amphi/noise .*"threshold": 0', 10)
        assert dac.dac == 0
        assert json.loads((b.flash / "module_noise.json").read_text())["threshold"] == 0
        # A bad value is refused by the parser and counted, the DAC is left alone.
        stub.admin.order(MAC, "threshold", 5000, module="noise")
        b.wait_for(r"^noise: command ignored: threshold must be in 0\.\.4095", 10)
        assert dac.dac == 0

        # Kept across a reset: the loop writes the stored threshold again.
        dac.dac = 1234
        n = len(b.lines)
        stub.admin.order(MAC, "reboot")
        b.wait_boots(3, 20)
        b.wait_for(r"^mqtt: connected", 30, n)
        deadline = time.monotonic() + 10
        while dac.dac != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert dac.dac == 0
        assert not [line for line in b.lines if re.search(r"Traceback|MemoryError", line)]
