MICROPYTHON_MPY = "neocampus, self"

from portable_support import raises

from neocampus.commands import CommandError, parse

UNITS = ["auto_92f8"]


def test_orders_for_us_and_for_all():
    assert parse(b'{"dest": "all", "order": "status"}', UNITS, "temperature") == ("status", None)
    assert parse(b'{"dest": "AUTO_92F8", "order": "acquire"}', UNITS, "temperature") == ("acquire", None)
    assert parse('{"dest": "auto_92f8", "order": "frequency", "value": 120}', "auto_92f8",
                 "luminosity") == ("frequency", 120)
    cmd = parse(b'{"dest": "all", "order": "frequency", "value": "45"}', UNITS, "humidity")
    assert cmd[0] == "frequency" and cmd[1] == 45
    assert parse(b'{"dest": "all", "order": "frequency", "value": 59.6}', UNITS)[1] == 60


def test_foreign_dest_is_none_even_with_an_unknown_order():
    assert parse(b'{"dest": "auto_0001", "order": "status"}', UNITS, "temperature") is None
    assert parse(b'{"dest": "auto_0001", "order": "explode"}', UNITS, "temperature") is None
    assert parse(b'{"dest": "aa:bb:cc:dd:92:f8", "order": "status"}', UNITS, "temperature") is None


def test_device_orders_with_mac_dest_in_any_case():
    mac = ["aa:bb:cc:dd:92:f8"]
    assert parse(b'{"dest": "AA:BB:CC:DD:92:F8", "order": "reboot"}', mac, "device") == ("reboot", None)
    assert parse(b'{"dest": "all", "order": "restart"}', mac, "device") == ("restart", None)
    assert parse(b'{"dest": "all", "order": "upgrade"}', mac, "device") == ("upgrade", None)
    url = "https://example.org/esp8266/neOSensor/default.json"
    assert parse(('{"dest": "all", "order": "upgrade", "value": "%s"}' % url).encode(), mac,
                 "device") == ("upgrade", url)
    with raises(CommandError, "URL"):
        parse(b'{"dest": "all", "order": "upgrade", "value": "file:///etc/passwd"}', mac, "device")
    with raises(CommandError, "unknown order"):
        parse(b'{"dest": "all", "order": "acquire"}', mac, "device")


def test_noise_orders_and_ranges():
    assert parse(b'{"dest": "all", "order": "sensitivity", "value": 80}', UNITS, "noise") == \
        ("sensitivity", 80)
    assert parse(b'{"dest": "all", "order": "threshold", "value": 4095}', UNITS, "noise") == \
        ("threshold", 4095)
    for bad in (b'{"dest": "all", "order": "threshold", "value": 4096}',
                b'{"dest": "all", "order": "sensitivity", "value": -1}',
                b'{"dest": "all", "order": "sensitivity", "value": "loud"}',
                b'{"dest": "all", "order": "sensitivity", "value": true}'):
        with raises(CommandError):
            parse(bad, UNITS, "noise")
    with raises(CommandError, "unknown order 'threshold' for module temperature"):
        parse(b'{"dest": "all", "order": "threshold", "value": 1}', UNITS, "temperature")


def test_hostile_payloads_raise_clear_errors():
    cases = (
        (b"not json", "not JSON"),
        (b"\xff\xfe{", "not JSON"),
        (b"", "not JSON"),
        (b'["dest", "all"]', "JSON object"),
        (b'"status"', "JSON object"),
        (b"42", "JSON object"),
        (b"null", "JSON object"),
        (b'{"order": "status"}', "dest"),
        (b'{"dest": 7, "order": "status"}', "dest"),
        (b'{"dest": ["all"], "order": "status"}', "dest"),
        (b'{"dest": "", "order": "status"}', "dest"),
        (b'{"dest": "all"}', "order"),
        (b'{"dest": "all", "order": 3}', "order"),
        (b'{"dest": "all", "order": "format_flash"}', "unknown order"),
        (b'{"dest": "all", "order": "frequency"}', "number"),
        (b'{"dest": "all", "order": "frequency", "value": {"s": 1}}', "number"),
        (b'{"dest": "all", "order": "frequency", "value": "soon"}', "not a number"),
        (b'{"dest": "all", "order": "frequency", "value": 0}', "> 0"),
        (b'{"dest": "all", "order": "frequency", "value": -60}', "> 0"),
        (b'{"dest": "all", "order": "frequency", "value": 1e999}', "finite"),
        (b'{"dest": "all", "order": "frequency", "value": false}', "number"),
    )
    for raw, message in cases:
        with raises(CommandError, message):
            parse(raw, UNITS, "temperature")
    with raises(CommandError, "too long"):
        parse(b'{"dest": "all", "order": "status", "pad": "' + b"x" * 600 + b'"}', UNITS, "temperature")
    with raises(CommandError, "bytes or str"):
        parse(None, UNITS, "temperature")
    with raises(CommandError):
        parse(b"[" * 300 + b"]" * 300, UNITS, "temperature")


def test_command_error_is_a_value_error_and_huge_frequencies_stay_small():
    assert issubclass(CommandError, ValueError)
    assert parse(b'{"dest": "all", "order": "frequency", "value": 1e300}', UNITS)[1] == 86400
    assert parse(b'{"dest": "all", "order": "frequency", "value": 99999999999999999999999}', UNITS)[1] == 86400


def test_value_is_ignored_for_orders_without_one():
    assert parse(b'{"dest": "all", "order": "status", "value": [1, 2]}', UNITS, "luminosity") == ("status", None)
    assert parse(b'{"dest": "all", "order": "acquire", "value": null}', UNITS, "luminosity") == ("acquire", None)
