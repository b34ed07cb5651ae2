# Identity rules of the sensOCampus protocol: MAC forms, broker login, unitID.
# The server stores MACs uppercase with colons; the firmware sends them
# lowercase with colons; the login and unitIDs use bare lowercase hex.

_HEX = "0123456789abcdef"


def mac_hex(mac):
    """12 lowercase hex digits from a MAC written with ':', '-' or no separator, any case."""
    if not isinstance(mac, str):
        raise ValueError("MAC must be a string")
    s = mac.strip().lower()
    if len(s) == 17:
        sep = s[2]
        if sep not in ":-":
            raise ValueError("bad MAC separator in %r" % mac)
        for i in range(2, 17, 3):
            if s[i] != sep:
                raise ValueError("inconsistent MAC separators in %r" % mac)
        s = s.replace(sep, "")
    if len(s) != 12:
        raise ValueError("MAC must have 12 hex digits: %r" % mac)
    for c in s:
        if c not in _HEX:
            raise ValueError("non-hex character in MAC %r" % mac)
    return s


def _colons(h):
    return ":".join(h[i:i + 2] for i in range(0, 12, 2))


def mac_stored(mac):
    """The server's form: AA:BB:CC:DD:EE:FF."""
    return _colons(mac_hex(mac)).upper()


def mac_wire(mac):
    """The device's form (firmware requests, device unitID): aa:bb:cc:dd:ee:ff."""
    return _colons(mac_hex(mac))


def login_for(mac):
    return "senso_" + mac_hex(mac)


def unit_id(mac, unit=None):
    """unitID of a sensor module: `auto_xxxx`, or `<unit>_xxxx` when the config names a unit."""
    return (unit or "auto") + "_" + mac_hex(mac)[-4:]
