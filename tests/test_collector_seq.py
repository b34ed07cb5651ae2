"""Per-device reading counts from `seq` (provisioning/seqcount.py through the collector):
received, missing (gaps), duplicates and a counter that starts again; one counter for all
the modules of a device, as the firmware and the agent number their readings."""
import json
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from support.stub_helpers import handshake, mqtt_client, wait_until  # noqa: E402

from provisioning.collector import Collector  # noqa: E402
from provisioning.registry import Registry  # noqa: E402

MAC = "02:00:00:00:00:01"


def reading(seq, value=20.5, module="temperature"):
    sub = {"temperature": "24", "humidity": "64", "luminosity": "41"}[module]
    return {"value": value, "value_units": "x", "subID": sub, "unitID": "auto_0001", "seq": seq}


def feed(col, messages, base="u4/gap"):
    for module, body in messages:
        col.inbox.append(("%s/%s" % (base, module), json.dumps(body).encode(), 1.0, 0, 0))
    col.drain()


def counts(reg, mac=MAC):
    return reg.device(mac)["readings"]


def collector(tmp_path, macs=(MAC,), location="u4/gap"):
    reg = Registry(tmp_path / "r.sqlite3")
    for mac in macs:
        if not any(d["mac"] == mac for d in reg.devices()):
            reg.add_device(mac, location)
    return reg, Collector(reg, "127.0.0.1", 1, "u", "p")


def test_one_counter_for_all_modules_of_a_device_is_no_gap(tmp_path):
    reg, col = collector(tmp_path)
    mods = ["temperature", "humidity", "luminosity"]
    feed(col, [(mods[s % 3], reading(s, 20 + s, mods[s % 3])) for s in range(9)])
    assert counts(reg) == {"received": 9, "missing": 0, "duplicates": 0, "restarts": 0, "last_seq": 8}
    assert col.counters["missing (seq gaps)"] == 0


def test_gaps_late_arrivals_and_duplicates(tmp_path):
    reg, col = collector(tmp_path)
    feed(col, [("temperature", reading(s, 20 + s)) for s in (0, 1, 5, 6)])
    assert counts(reg)["missing"] == 3  # 2, 3, 4
    # 3 comes late (a resend after a reconnection): a gap filled, stored.
    feed(col, [("temperature", reading(3, 23)), ("temperature", reading(6, 26)),
               ("temperature", reading(1, 21))])
    c = counts(reg)
    assert (c["received"], c["missing"], c["duplicates"], c["restarts"]) == (5, 2, 2, 0)
    assert sorted(r["seq"] for r in reg.readings()) == [0, 1, 3, 5, 6]
    assert col.counters["duplicates"] == 2 and col.counters["missing (seq gaps)"] == 2


def test_a_duplicate_in_the_same_batch_is_stored_once(tmp_path):
    reg, col = collector(tmp_path)
    feed(col, [("temperature", reading(0)), ("temperature", reading(1)), ("temperature", reading(1))])
    assert counts(reg)["received"] == 2 and counts(reg)["duplicates"] == 1
    assert reg.count_readings() == 2


def test_a_counter_that_starts_again_is_a_restart_not_duplicates_nor_a_gap(tmp_path):
    """Our firmware and agent keep seq across reboots (flash, outbox file); a factory reset,
    an erased board or a foreign device starts again from 0: its new readings are kept."""
    reg, col = collector(tmp_path)
    feed(col, [("temperature", reading(s, 20 + s)) for s in range(100)])
    # After a reset: the same seqs, other values, then beyond the old highest.
    feed(col, [("temperature", reading(s, 30 + s * 0.5)) for s in range(120)])
    c = counts(reg)
    assert (c["received"], c["missing"], c["duplicates"], c["restarts"], c["last_seq"]) == (220, 0, 0, 1, 119)
    assert reg.count_readings() == 220
    # The firmware sends again up to 31 acknowledged readings after a reset: duplicates,
    # of the new epoch.
    feed(col, [("temperature", reading(s, 30 + s * 0.5)) for s in range(90, 120)])
    assert counts(reg)["duplicates"] == 30 and counts(reg)["restarts"] == 1
    assert reg.count_readings() == 220


def test_counts_survive_the_stub_restarting(tmp_path):
    reg, col = collector(tmp_path)
    feed(col, [("temperature", reading(s, s)) for s in (0, 1, 2, 4)])
    reg.close()
    reg, col = collector(tmp_path)
    assert counts(reg)["received"] == 4
    # A redelivery after the restart is known as one; 3 fills its gap.
    feed(col, [("temperature", reading(2, 2)), ("temperature", reading(3, 3)), ("temperature", reading(5, 5))])
    c = counts(reg)
    assert (c["received"], c["missing"], c["duplicates"]) == (6, 0, 1)


def test_two_devices_are_counted_apart(tmp_path):
    other = "02:00:00:00:00:02"
    reg, col = collector(tmp_path, macs=(MAC, other))
    feed(col, [("temperature", reading(s, s)) for s in (0, 1, 2)])
    b = dict(reading(0), unitID="auto_0002")
    feed(col, [("temperature", b), ("temperature", dict(b, seq=3, value=3))])
    assert counts(reg)["missing"] == 0 and counts(reg)["received"] == 3
    assert counts(reg, other)["missing"] == 2 and counts(reg, other)["received"] == 2


def test_a_store_that_cannot_write_counts_the_batch_once(tmp_path, monkeypatch):
    import sqlite3
    reg, col = collector(tmp_path)
    real = reg.store_batch
    calls = []

    def full(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database or disk is full")
        return real(*a, **k)
    monkeypatch.setattr(reg, "store_batch", full)
    feed(col, [("temperature", reading(s, s)) for s in (0, 1, 3)])
    assert counts(reg)["received"] == 0 and len(col.inbox) == 3
    col.drain()
    c = counts(reg)
    assert (c["received"], c["missing"], c["duplicates"]) == (3, 1, 0)


def test_api_devices_shows_the_counts(stub):
    mac = "02:00:00:00:17:01"
    stub.admin.add_device(mac, location="u4/seqapi", modules=["temperature"])
    login, password, cfg = handshake(stub, mac)
    base = cfg["topics"][0]
    dev = mqtt_client(stub, login, password)
    for seq in (0, 1, 2, 5, 5):
        dev.publish(base + "/temperature", dict(reading(seq, seq), unitID="auto_1701"))
    got = wait_until(lambda: [d for d in stub.admin.devices() if d["mac"] == mac.upper()
                              and d["readings"]["received"] == 4 and d["readings"]["duplicates"] == 1], timeout=10)
    dev.close()
    assert got, stub.admin.devices()
    assert got[0]["readings"] == {"received": 4, "missing": 2, "duplicates": 1, "restarts": 0, "last_seq": 5}
