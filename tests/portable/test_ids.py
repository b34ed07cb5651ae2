from portable_support import raises

from neocampus import ids


def test_mac_forms_are_accepted_in_any_case_and_separator():
    for text in ("aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "aabbccddeeff", "AaBbCcDdEeFf", " aa:bb:cc:dd:ee:ff\n"):
        assert ids.mac_stored(text) == "AA:BB:CC:DD:EE:FF", text
        assert ids.mac_wire(text) == "aa:bb:cc:dd:ee:ff", text


def test_bad_macs_are_refused_with_a_clear_error():
    for text in ("", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:fg", "aa:bb-cc:dd:ee:ff", "aa.bb.cc.dd.ee.ff",
                 "' OR 1=1 --", "aabbccddeeff00"):
        with raises(ValueError):
            ids.mac_hex(text)
    with raises(ValueError, "string"):
        ids.mac_hex(None)


def test_login_and_unit_ids_follow_the_protocol():
    assert ids.login_for("AA:BB:CC:DD:92:F8") == "senso_aabbccdd92f8"
    assert ids.unit_id("AA:BB:CC:DD:92:F8") == "auto_92f8"
    assert ids.unit_id("aa-bb-cc-dd-92-f8", "ambiant") == "ambiant_92f8"
