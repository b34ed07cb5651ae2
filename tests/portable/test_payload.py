# The board runs neocampus/ as .mpy; compiling it from source would cost the
# test heap ~26 KB (see tests/harness.py compile_packages).
MICROPYTHON_MPY = "neocampus, self"

import json
import struct

from portable_support import raises

from neocampus import payload


def f32(v):
    """v as a board with single-precision floats holds it."""
    return struct.unpack("<f", struct.pack("<f", v))[0]


def test_temperature_payload_is_exact_text():
    text = payload.reading("temperature", 21.375, "auto_92f8", 0x18)
    assert text == '{"value": 21.375, "value_units": "celsius", "subID": "24", "unitID": "auto_92f8"}', text


def test_temperature_rounding_to_three_decimals_on_double_and_single_floats():
    cases = ((21.375, "21.375"), (21.3749, "21.375"), (21.3744, "21.374"), (-5.0625, "-5.063"),
             (0.0005, "0.001"), (0.0004, "0.0"), (-0.0004, "0.0"), (21.0, "21.0"), (21, "21.0"),
             (-0.25, "-0.25"), (100.1, "100.1"), (-40.0, "-40.0"), (125.9999, "126.0"))
    for value, want in cases:
        for v in (value, f32(value)):
            got = payload.fixed3(v)
            assert got == want, (v, got, want)
            text = payload.reading("temperature", v, "auto_0001", 24)
            assert text.startswith('{"value": ' + want + ", "), text
            assert json.loads(text)["value"] == float(want)


def test_integer_modules_round_half_away_from_zero():
    assert payload.reading("humidity", 45.5, "auto_92f8", 0x44) == \
        '{"value": 46, "value_units": "%r.H.", "subID": "68", "unitID": "auto_92f8"}'
    assert payload.reading("humidity", 45.49, "auto_92f8", 0x44).startswith('{"value": 45, ')
    assert payload.reading("luminosity", 312, "auto_92f8", 0x29) == \
        '{"value": 312, "value_units": "lux", "subID": "41", "unitID": "auto_92f8"}'
    assert payload.reading("luminosity", f32(0.49), "auto_92f8", 0x29).startswith('{"value": 0, ')


def test_additive_fields_seq_and_timestamp_come_last():
    text = payload.reading("temperature", 19.5, "ambiant_92f8", 24, seq=17, timestamp=1795000000)
    assert text == ('{"value": 19.5, "value_units": "celsius", "subID": "24", "unitID": "ambiant_92f8", '
                    '"seq": 17, "timestamp": 1795000000}'), text
    doc = json.loads(text)
    assert doc["seq"] == 17 and doc["timestamp"] == 1795000000


def test_noise_and_digital_payloads():
    assert payload.reading("noise", 143, "auto_92f8", "96", input=13) == \
        '{"value": 143, "value_units": "pulses", "input": 13, "subID": "96", "unitID": "auto_92f8"}'
    assert payload.reading("digital", True, "auto_92f8", input=5, type="presence", seq=2) == \
        '{"value": true, "input": 5, "type": "presence", "unitID": "auto_92f8", "seq": 2}'
    with raises(ValueError, "bool"):
        payload.reading("digital", 1, "auto_92f8", input=5, type="presence")
    with raises(ValueError, "input"):
        payload.reading("noise", 3, "auto_92f8")


def test_airquality_units_per_sub_id():
    assert payload.reading("airquality", 612.4, "auto_92f8", "co2") == \
        '{"value": 612, "value_units": "ppm", "subID": "co2", "unitID": "auto_92f8"}'
    text = payload.reading("airquality", 12.25, "auto_92f8", "pm2_5")
    assert text == '{"value": 12.25, "value_units": "µg/m3", "subID": "pm2_5", "unitID": "auto_92f8"}', text
    assert json.loads(text)["value_units"] == "\u00b5g/m3"
    with raises(ValueError, "subID"):
        payload.reading("airquality", 1, "auto_92f8")


def test_bad_values_are_refused_clearly():
    for bad in (float("nan"), float("inf"), -float("inf"), "21.5", None, True):
        with raises(ValueError):
            payload.reading("temperature", bad, "auto_92f8", 24)
    with raises(ValueError, "module"):
        payload.reading("pressure", 1013, "auto_92f8", 0x76)
    with raises(ValueError, "unit_id"):
        payload.reading("temperature", 20, "", 24)


def test_strings_are_escaped():
    text = payload.reading("digital", False, 'a"b\\c', input=2, type="on\noff")
    assert json.loads(text)["unitID"] == 'a"b\\c'
    assert json.loads(text)["type"] == "on\noff"
    assert text == '{"value": false, "input": 2, "type": "on\\u000aoff", "unitID": "a\\"b\\\\c"}', text


def test_sensor_status_and_extras_are_deterministic():
    text = payload.status("temperature", 60, ["MCP9808@24", "SHT3x@68"], "2026-11-25 13:40:00 +0000",
                          unit_id="auto_92f8", rejected=2, ratio=0.5, cfg={"b": 1, "a": [None, False]})
    assert text == ('{"unitID": "auto_92f8", "frequency": 60, "sensors": ["MCP9808@24", "SHT3x@68"], '
                    '"time": "2026-11-25 13:40:00 +0000", "cfg": {"a": [null, false], "b": 1}, '
                    '"ratio": 0.5, "rejected": 2}'), text


def test_device_status_fields_in_wire_order():
    text = payload.status("device", 1800, [], "2026-11-25 13:40:00 +0000", unit_id="aa:bb:cc:dd:92:f8",
                          board="neOSensor", firmware="261125", hardware="esp8266", heap=21344,
                          modules=["temperature", "luminosity"], status="running")
    assert text == ('{"unitID": "aa:bb:cc:dd:92:f8", "frequency": 1800, "sensors": [], '
                    '"time": "2026-11-25 13:40:00 +0000", "status": "running", '
                    '"modules": ["temperature", "luminosity"], "heap": 21344, "hardware": "esp8266", '
                    '"firmware": "261125", "board": "neOSensor"}'), text
    assert json.loads(text)["heap"] == 21344


def test_format_time():
    assert payload.format_time((2026, 11, 25, 13, 40, 0, 2, 329)) == "2026-11-25 13:40:00 +0000"
    assert payload.format_time((2026, 1, 2, 3, 4, 5), 60) == "2026-01-02 03:04:05 +0100"
    assert payload.format_time((2026, 1, 2, 3, 4, 5), -210) == "2026-01-02 03:04:05 -0330"


def test_units_and_value_formats_come_from_the_module_table():
    from neocampus import table
    assert table.MODULES["temperature"][table.UNITS] == "celsius"
    assert table.MODULES["humidity"][table.UNITS] == "%r.H."
    assert table.MODULES["luminosity"][table.UNITS] == "lux"
    for module in table.MODULES:
        row = table.MODULES[module]
        if row[table.VALUE] in ("int", "float3"):
            text = payload.reading(module, 21.5, "auto_92f8", 24, input=4)
            want = ('"value": 22' if row[table.VALUE] == "int" else '"value": 21.5') + ", "
            assert text.startswith("{" + want), text
            assert ('"value_units": "%s"' % row[table.UNITS]) in text, text
    try:
        payload.reading("device", 1, "aa:bb:cc:dd:92:f8")
    except ValueError as e:
        assert "module must be known" in str(e)
    else:
        raise AssertionError("a device reading was made")


def test_parts_concatenate_to_the_text_and_stay_small():
    # A board writes the parts one by one: no part may be the whole payload.
    kw = dict(unit_id="aa:bb:cc:dd:92:f8", status="running", modules=["temperature", "luminosity"],
              heap=21344, hardware="esp8266", firmware=261125, board="esp8266", bad_commands=0)
    parts = payload.status("device", 1800, ["MCP9808@24"], "2026-11-25 13:40:00 +0000", joined=False, **kw)
    text = payload.status("device", 1800, ["MCP9808@24"], "2026-11-25 13:40:00 +0000", **kw)
    assert "".join(parts) == text and len(text) > 250, text
    assert max(len(p) for p in parts) < 80, parts
    parts = payload.reading("temperature", 21.375, "auto_92f8", 0x18, seq=3, joined=False, note="x")
    assert "".join(parts) == payload.reading("temperature", 21.375, "auto_92f8", 0x18, seq=3, note="x")
    assert parts[0] == '{"value": 21.375' and parts[-1] == "}", parts


def test_fields_are_written_in_their_order_after_time():
    text = payload.status("device", 1800, [], "2026-11-25 13:40:00 +0000", unit_id="aa:bb:cc:dd:92:f8",
                          fields=("status", "running", "heap", 2048, "modules", ["noise"]), z=1, a=None)
    assert text == ('{"unitID": "aa:bb:cc:dd:92:f8", "frequency": 1800, "sensors": [], '
                    '"time": "2026-11-25 13:40:00 +0000", "status": "running", "heap": 2048, '
                    '"modules": ["noise"], "z": 1}'), text
