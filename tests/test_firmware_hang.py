"""A chip that holds the I2C bus (SCL stuck low: every transfer hangs): the
watchdog resets the board, the firmware says why on the next boot, and
after 5 such resets in a row the board is in safe mode (its set-up portal),
not in a silent reset loop. The watchdog is set to 3 s in config.json
("watchdog", seconds) so that five hangs take seconds, not minutes. The
chip mended, the portal's form saved leaves safe mode."""
import pytest
import requests

from toolchain import micropython as upy
from virtual_board import DEFAULT_HEAP, VirtualBoard

pytestmark = [pytest.mark.slow, pytest.mark.micropython]


def test_a_held_bus_ends_in_watchdog_resets_then_safe_mode(tmp_path):
    reason = upy.unavailable_reason()
    if reason:
        from harness import need
        need(reason)
    with VirtualBoard("aa:bb:cc:00:0d:06", wifi=("campus", "secret99"), sandbox=True, heap=DEFAULT_HEAP,
                      chips=["mcp9808@0x18:temperature=21,hold=1"], flash_dir=tmp_path / "flash",
                      config_extra={"watchdog": 3}, echo=False) as b:
        b.wait_for(r"^portal: safe mode after 5 failed boots in a row", 120)
        resets = [x for x in b.lines if x.startswith("--- watchdog: no feed for 3.0 s: reset")]
        said = [x for x in b.lines if x.startswith("neosensor: reset by the watchdog: the firmware hung")]
        assert len(resets) == 5 and len(said) == 5, (resets, said)
        assert b.boots == ["power"] + ["wdt"] * 5
        assert not [x for x in b.lines if x.startswith("i2c: ")]  # the scan never finished
        assert (b.flash / "crash.count").read_text() == "5"
        b.wait_for(r"^neosensor: 5 failed boots in a row: safe mode \(set-up portal \+ REPL\); save the "
                   r"portal's form, or remove crash.count from the REPL, to try again", 1)
        # The chip mended, a student saves the portal's form: out of safe mode, a normal boot.
        b.set(0x18, hold=0)
        n = len(b.lines)
        r = requests.post("http://127.0.0.1:%d/save" % b.portal_port, timeout=15,
                          data={"ssid": "campus", "password": "secret99", "sandbox": "on"})
        assert r.status_code == 200 and "joins campus" in r.text, r.text
        b.wait_for(r"^setup: done", 60, n)
        assert b.boots[6] == "reset" and not (b.flash / "crash.count").exists()
        assert not [x for x in b.lines[n:] if "safe mode" in x or x.startswith("--- watchdog")]
