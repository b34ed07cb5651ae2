"""The live page in real headless Chromium: a reading published to the broker appears on it."""
import sys

import pytest


sys.path.insert(0, __file__.rsplit("/", 1)[0])
from support.chromium import browser  # noqa: E402,F401 (a fixture)
from support.stub_helpers import mqtt_client, handshake  # noqa: E402

pytestmark = pytest.mark.slow


def test_reading_and_status_appear_live_on_a_phone_sized_page(stub, browser):
    mac = "02:11:22:33:44:55"
    stub.admin.add_device(mac, location=("Bâtiment U4", "Salle 302"), modules=["temperature"])
    login, password, cfg = handshake(stub, mac)
    base = cfg["topics"][0]
    page = browser.new_page(viewport={"width": 390, "height": 800})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(stub.url + "/")
    page.wait_for_selector("#conn.live", timeout=10000)
    assert page.locator("tr[data-mac='02:11:22:33:44:55']").inner_text().count("Bâtiment U4 / Salle 302") == 1
    assert page.locator("#rooms").inner_text().strip() == "no reading yet"
    assert "collector connected" in page.locator("#collector").inner_text()

    dev = mqtt_client(stub, login, password)
    for seq, value in enumerate([21.0, 21.5, 22.25], 1):
        dev.publish(base + "/temperature", {"value": value, "value_units": "celsius", "subID": "24",
                                            "unitID": "auto_4455", "seq": seq})
    card = page.locator("[data-sensor='%s/temperature/auto_4455/24']" % base)
    card.locator(".v", has_text="22.25").wait_for(timeout=10000)
    assert "celsius" in card.inner_text()
    points = card.locator("svg.spark polyline").get_attribute("points").split()
    assert len(points) == 3  # one point per reading: the sparkline follows the values
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[0] > ys[1] > ys[2]  # rising values drawn upwards
    assert page.locator("[data-room='batiment_u4/salle_302']").count() == 1
    # The device's counts from seq follow live: a gap (4 lost) and a duplicate.
    row = page.locator("tr[data-mac='02:11:22:33:44:55']")
    row.locator("td.received", has_text="3").wait_for(timeout=10000)
    assert row.locator("td.missing").inner_text() == "0"
    for seq in (5, 5):
        dev.publish(base + "/temperature", {"value": 23.0, "value_units": "celsius", "subID": "24",
                                            "unitID": "auto_4455", "seq": seq})
    row.locator("td.duplicates", has_text="1").wait_for(timeout=10000)
    assert (row.locator("td.received").inner_text(), row.locator("td.missing").inner_text()) == ("4", "1")
    assert "bad" in row.locator("td.missing").get_attribute("class")

    dev.publish(base + "/device", {"unitID": mac.lower(), "status": "running", "heap": 31337})
    row = page.locator("tr[data-mac='02:11:22:33:44:55']")
    row.locator("td", has_text="31337 B").wait_for(timeout=10000)
    assert "running" in row.inner_text()
    # A Pi's free memory, in gigabytes, not 11 digits of bytes.
    dev.publish(base + "/device", {"unitID": mac.lower(), "status": "running", "heap": 23742390272})
    row.locator("td.heap", has_text="23.7 GB").wait_for(timeout=10000)
    assert row.locator("td.heap").get_attribute("title") == "23742390272 B"
    dev.close()

    # A device registered while the page is open shows up without a reload,
    # once it has claimed its credentials: a pending device's MAC is shown to
    # nobody (whoever read it could claim its password first).
    stub.admin.add_device("02:11:22:33:44:66", location="u4/303")
    page.wait_for_timeout(1500)
    assert page.locator("tr[data-mac='02:11:22:33:44:66']").count() == 0
    assert "02:11:22:33:44:66" not in page.content()
    handshake(stub, "02:11:22:33:44:66")
    page.locator("tr[data-mac='02:11:22:33:44:66']").wait_for(timeout=10000)
    # Phone width: nothing wider than the viewport.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert errors == []
    page.close()
