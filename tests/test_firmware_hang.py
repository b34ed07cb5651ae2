"""A chip that holds the I2C bus (SCL stuck low: every transfer hangs): the
watchdog resets the board, the firmware says why on the next boot, and
after 5 such resets in a row the board is in safe mode (its set-up portal),
not in a silent reset loop. The watchdog is set to 3 s in config.json
("watchdog", seconds) so that five hangs take seconds, not minutes."""
import pytest

from toolchain import micropython as upy
from virtual_board import DEFAULT_HEAP, VirtualBoard

pytestmark = [pytest.mark.slow, pytest.mark.micropython]


def test_a_held_bus_ends_in_watchdog_resets_then_safe_mode(tmp_path):
    reason = upy.unavailable_reason()
    if reason:
        from harness import need
        need(reason)
    with VirtualBoard("aa:bb:cc:00:0d:06", wifi=("campus", "secret"), sandbox=True, heap=DEFAULT_HEAP,
                      chips=["mcp9808@0x18:temperature=21,hold=1"], flash_dir=tmp_path / "flash",
                      config_extra={"watchdog": 3}, echo=False) as b:
        b.wait_for(r"^portal: safe mode after 5 failed boots in a row", 120)
        resets = [x for x in b.lines if x.startswith("--- watchdog: no feed for 3.0 s: reset")]
        said = [x for x in b.lines if x.startswith("neosensor: reset by the watchdog: the firmware hung")]
        assert len(resets) == 5 and len(said) == 5, (resets, said)
        assert b.boots == ["power"] + ["wdt"] * 5
        assert not [x for x in b.lines if x.startswith("i2c: ")]  # the scan never finished
        assert (b.flash / "crash.count").read_text() == "5"
