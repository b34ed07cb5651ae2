"""The set-up portal on the virtual board: a board with no Wi-Fi configured
opens its access point and form (the board's port 80 is a loopback port of
the runner); bad submissions get an error page and change nothing; a good
one is saved and the board reboots into it."""
import json
import socket

import pytest
import requests

from toolchain import micropython as upy
from virtual_board import DEFAULT_HEAP, VirtualBoard

pytestmark = [pytest.mark.slow, pytest.mark.micropython]

MAC = "aa:bb:cc:00:90:7a"


def _raw(port, data, shut=True):
    """Send raw bytes, then read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return out.decode(errors="replace")
            out += chunk


@pytest.fixture
def board(tmp_path):
    reason = upy.unavailable_reason()
    if reason:
        from harness import need
        need(reason)
    b = VirtualBoard(MAC, wifi=("lab", "secret99"), sandbox=True, heap=DEFAULT_HEAP, echo=False,
                     flash_dir=tmp_path / "flash", config_extra={"wifi": []})
    b.start()
    try:
        b.wait_for(r"^portal: no Wi-Fi network configured: access point neOSensor_907a", 60)
        yield b
    finally:
        b.stop()


def test_the_portal_refuses_bad_forms_and_reboots_into_a_good_one(board):
    url = "http://127.0.0.1:%d" % board.portal_port
    config = board.flash / "config.json"
    before = config.read_text()

    page = requests.get(url + "/", timeout=15)
    assert page.status_code == 200 and 'name="ssid"' in page.text and "neOSensor_907a" in page.text
    assert "<script" not in page.text
    assert '<option value="lab">' in page.text     # the networks in range offered, free entry too

    bad = {"an overlong network name": ({"ssid": "x" * 33, "password": "secret99"}, "1 to 32 bytes"),
           "a short password": ({"ssid": "lab", "password": "short"}, "8 to 63"),
           "a bad URL": ({"ssid": "lab", "server": "ftp://example.org"}, "http:// or https://")}
    for what, (form, said) in bad.items():
        r = requests.post(url + "/save", data=form, timeout=15)
        assert r.status_code == 400 and said in r.text, (what, r.status_code, r.text)
        assert config.read_text() == before, what

    cut = _raw(board.portal_port, b"POST /save HTTP/1.0\r\nContent-Length: 100\r\n\r\nssid=lab&pass")
    assert cut.startswith("HTTP/1.0 400") and "did not arrive whole" in cut, cut
    huge = _raw(board.portal_port, b"GET / HTTP/1.0\r\n" + b"X-Pad: " + b"a" * 10240 + b"\r\n\r\n", shut=False)
    assert huge.startswith("HTTP/1.0 431"), huge[:200]
    garbage = _raw(board.portal_port, b"\x00\xff garbage\r\n\r\n")
    assert garbage.startswith("HTTP/1.0 400"), garbage[:200]
    assert config.read_text() == before
    assert len(board.boots) == 1

    n = len(board.lines)
    r = requests.post(url + "/save", data={"ssid": "lab", "password": "secret99", "sandbox": "on"}, timeout=15)
    assert r.status_code == 200 and "joins lab" in r.text
    board.wait_for(r"^wifi: connected to lab", 60, n)
    saved = json.loads(config.read_text())
    assert saved["wifi"] == [{"ssid": "lab", "password": "secret99"}] and saved["sandbox"] is True
    assert board.boots[1] == "reset"


def test_the_portal_opens_after_5_minutes_without_wifi_and_gives_the_board_back_after_10(tmp_path):
    """Wi-Fi failing (a network configured that never lets the board join):
    after 5 minutes of tries the set-up phase opens the portal, for 10
    minutes, then resets and tries again. The board's clock runs 60 times as
    fast (virtual_board's clock=60: its ticks and sleeps), so those 15
    minutes take 15 s; nothing of the firmware changes for it."""
    reason = upy.unavailable_reason()
    if reason:
        from harness import need
        need(reason)
    b = VirtualBoard("aa:bb:cc:00:90:7b", wifi=("lab", "secret99"), sandbox=True, heap=DEFAULT_HEAP, echo=False,
                     flash_dir=tmp_path / "flash", clock=60)
    b.set_wifi("fail")
    b.start()
    try:
        b.wait_for(r"^wifi: cannot join lab", 60)
        t0 = b.times[-1]
        i, m = b.wait_for(r"^portal: no Wi-Fi for (\d+) tries: access point neOSensor_907b", 60)
        # Board time: 300 s of tries at 60 times the pace, 5 s; not one try in real time (20 s each at most).
        took = b.times[i] - t0
        assert 4.0 < took < 30.0, took
        tries = [x for x in b.lines[:i] if x.startswith("wifi: cannot join lab")]
        assert len(tries) == int(m.group(1)) >= 10, (len(tries), m.group(1))
        assert len(b.boots) == 1  # the set-up phase's own tries, no reset in between
        page = requests.get("http://127.0.0.1:%d/" % b.portal_port, timeout=15)
        assert page.status_code == 200 and 'value="lab"' in page.text
        # Nobody saves the form: after its 10 minutes the board resets and tries again; the
        # network back, it joins it.
        j, _ = b.wait_for(r"^portal: no form saved in 600 s", 30, i)
        assert 7.0 < b.times[j] - b.times[i] < 40.0, b.times[j] - b.times[i]
        b.set_wifi("ok")
        b.wait_for(r"^wifi: connected to lab", 60, j)
        assert b.boots[:2] == ["power", "reset"]
    finally:
        b.stop()


def test_a_corrupt_config_json_leads_to_the_portal_not_a_crash(tmp_path):
    """config.json cut or garbled (and no complete config.json.tmp to fall
    back on): the set-up phase opens the portal at once. Its factory reset
    forgets the set-up files (the portal again), and its form writes a new,
    good config the board then boots on."""
    reason = upy.unavailable_reason()
    if reason:
        from harness import need
        need(reason)
    from toolchain.deploy import deploy
    flash = tmp_path / "flash"
    deploy(flash, mode="romfs")
    (flash / "config.json").write_bytes(b'{"wifi": [{"ssid": "lab", "pass\xff')
    state = ("sensocampus.json", "seq.json", "outbox.bin", "outbox.json", "crash.count", "module_device.json",
             "module_temperature.json", "plan_1.json", "update.json", "config.json.tmp")
    for name in state:
        (flash / name).write_text("3")
    with VirtualBoard("aa:bb:cc:00:90:7c", wifi=("lab", "secret99"), heap=DEFAULT_HEAP, echo=False,
                      flash_dir=flash, blank=True) as b:
        i, _ = b.wait_for(r"^portal: no readable config\.json: access point neOSensor_907c", 60)
        # The factory reset first: the set-up files forgotten, the firmware kept, the portal again.
        r = requests.post("http://127.0.0.1:%d/factory" % b.portal_port, timeout=15)
        assert r.status_code == 200 and "set-up is forgotten" in r.text, r.text
        b.wait_for(r"^portal: no readable config\.json", 60, i + 1)
        assert not [n for n in ("config.json",) + state if (flash / n).exists()]
        assert all((flash / n).exists() for n in ("romfs.img", "main.py", "boot.py", "firmware.json"))
        r = requests.post("http://127.0.0.1:%d/save" % b.portal_port, timeout=15,
                          data={"ssid": "lab", "password": "secret99", "sandbox": "on"})
        assert r.status_code == 200, r.text
        b.wait_for(r"^wifi: connected to lab", 60)
        assert json.loads((flash / "config.json").read_text())["wifi"] == [{"ssid": "lab", "password": "secret99"}]
        assert b.boots == ["power", "reset", "reset"] and not [x for x in b.lines if "crashed" in x or "Traceback" in x]
