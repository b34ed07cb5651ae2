"""`neoc fleet register devices.csv` and `neoc fleet status` against a real
stub: added / changed / unchanged, idempotent, a dry run, and a file with
bad rows refused row by row with nothing applied."""
import json

import pytest
from click.testing import CliRunner

from provisioning.fleet import FleetError, fleet, read_csv

GOOD = """mac,building,room,kind,modules,broker
aa:bb:cc:00:16:01,U4,302,neosensor,temperature:60 humidity,
AA-BB-CC-00-16-02,U4,303,,luminosity,
aabbcc001603,IRIT2,366,rpi,temperature,127.0.0.1:1999
"""


def run(stub, *args):
    res = CliRunner().invoke(fleet, [*args, "--server", stub.url, "--token", stub.token], catch_exceptions=False)
    return res.exit_code, res.output


def write(tmp_path, text, name="devices.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def macs(stub):
    return {d["mac"] for d in stub.admin.devices()}


def test_register_is_idempotent_and_says_what_it_did(stub, tmp_path):
    good = write(tmp_path, GOOD)
    code, out = run(stub, "register", good, "--dry-run")
    assert code == 0 and "dry run: 3 added, 0 changed, 0 unchanged; nothing applied" in out
    assert not {"AA:BB:CC:00:16:01", "AA:BB:CC:00:16:02"} & macs(stub)

    code, out = run(stub, "register", good)
    assert code == 0 and out.strip().endswith("3 added, 0 changed, 0 unchanged"), out
    d = stub.admin.device("aa:bb:cc:00:16:01")
    assert d["topic"] == "u4/302" and [m["module"] for m in d["modules"]] == ["temperature", "humidity"]
    assert stub.admin.device("aa:bb:cc:00:16:03")["server"] == "127.0.0.1"
    assert stub.admin.device("aa:bb:cc:00:16:02")["kind"] == "neosensor"    # the default kind

    code, out = run(stub, "register", good)
    assert code == 0 and "0 added, 0 changed, 3 unchanged: nothing to change" in out

    moved = write(tmp_path, GOOD.replace("U4,303,,luminosity", "U4,304,,luminosity:120"), "moved.csv")
    code, out = run(stub, "register", moved, "--json")
    report = json.loads(out)
    assert report["summary"] == {"added": 0, "changed": 1, "unchanged": 2}
    changed = [r for r in report["rows"] if r["result"] == "changed"][0]
    assert changed["line"] == 3 and changed["mac"] == "AA:BB:CC:00:16:02"
    assert changed["changes"] == ["location U4/303 -> U4/304", "modules luminosity:30 -> luminosity:120"]
    d = stub.admin.device("aa:bb:cc:00:16:02")
    assert d["topic"] == "u4/304" and d["modules"][0]["frequency"] == 120


def test_a_file_with_bad_rows_is_refused_row_by_row_and_nothing_is_applied(stub, tmp_path):
    bad = write(tmp_path, """mac,building,room,kind,modules
aa:bb:cc:00:17:01,U4,310,neosensor,temperature
not-a-mac,U4,311,neosensor,temperature
aa:bb:cc:00:17:03,U4,312,neosensor,temperature thermometer
aa:bb:cc:00:17:01,U4,313,neosensor,humidity
aa:bb:cc:00:17:05,U4,,neosensor,humidity
aa:bb:cc:00:17:06,U4,315,toaster,humidity
""")
    res = CliRunner().invoke(fleet, ["register", bad, "--server", stub.url, "--token", stub.token])
    assert res.exit_code == 1
    lines = res.output.splitlines()
    assert "nothing applied" in lines[0]
    assert lines[1:] == ["line 3: bad MAC 'not-a-mac'",
                         "line 4: unknown module 'thermometer' (known: temperature, humidity, luminosity, "
                         "airquality, noise, digital, device)",
                         "line 5: duplicate MAC AA:BB:CC:00:17:01 (first on line 2)",
                         "line 6: missing room",
                         "line 7: kind 'toaster': one of neosensor, rpi, display"]
    assert "AA:BB:CC:00:17:01" not in macs(stub)    # the good first row was not applied either


def test_a_broker_override_that_cannot_change_refuses_the_whole_file(stub, tmp_path):
    run(stub, "register", write(tmp_path, "mac,building,room,kind,modules,broker\n"
                                          "aa:bb:cc:00:18:01,U4,320,,temperature,10.0.0.1:1883\n"))
    res = CliRunner().invoke(fleet, ["register", write(tmp_path, "mac,building,room,kind,modules,broker\n"
                                                                 "aa:bb:cc:00:18:02,U4,321,,temperature,\n"
                                                                 "aa:bb:cc:00:18:01,U4,320,,temperature,"
                                                                 "10.0.0.2:1883\n", "b.csv"),
                                     "--server", stub.url, "--token", stub.token])
    assert res.exit_code == 1 and "broker override cannot change" in res.output
    assert "AA:BB:CC:00:18:02" not in macs(stub)


def test_header_and_empty_lines():
    with pytest.raises(FleetError, match="line 1: the header needs the columns"):
        read_csv("mac,building,kind\n")
    rows = read_csv("MAC, Building, Room, Kind, Modules\n\naa:bb:cc:00:19:01, U4, 1, , \n")
    assert rows == [(3, {"mac": "AA:BB:CC:00:19:01", "location": "U4/1", "kind": "neosensor", "modules": [],
                         "broker": None})]


def test_status_lists_every_device_with_its_status_fields(stub, tmp_path):
    run(stub, "register", write(tmp_path, GOOD))
    code, out = run(stub, "status", "--json")
    rows = {r["mac"]: r for r in json.loads(out)}
    r = rows["AA:BB:CC:00:16:01"]
    assert set(r) == {"mac", "topic", "kind", "last_seen", "status", "firmware", "heap", "queued", "dropped",
                      "update_failed"}
    assert r["status"] is None and r["last_seen"] is None        # never seen yet
    code, out = run(stub, "status")
    header = out.splitlines()[0].split()
    assert header[:3] == ["MAC", "TOPIC", "LAST"] and "DROPPED" in header and header[-2:] == ["UPDATE", "FAILED"]
    assert any(line.startswith("AA:BB:CC:00:16:01") and " - " in line for line in out.splitlines())
