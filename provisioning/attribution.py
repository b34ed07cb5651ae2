"""Which device a message speaks for: its unitID must be one of a device
registered at the topic's location (the `device` module's MAC, a sensor
module's `<unit>_xxxx` with xxxx the MAC's last four hex digits).

The broker only knows that a login may publish in its room; this check stops a
device from recording statuses or readings under the identity of a device of
another room. Rebuilt from the registry when it changed (its generation). `owner` also
names the device (its stored MAC), for the per-device reading counts.
"""
from neocampus.ids import mac_hex, mac_stored

MAX_CACHED = 100000  # (topic, unitID) answers kept between registry changes


class Units:
    def __init__(self, registry):
        self.registry = registry
        self._generation = None
        self._macs = {}      # location topic -> {12 hex digits}
        self._suffixes = {}  # location topic -> {last 4 hex digits: stored MAC, or None when two share them}
        self._owners = {}    # (topic, unitID) -> stored MAC or None: one lookup per message

    def _refresh(self):
        if self._generation == self.registry.generation:
            return
        macs = {}
        for location, mac in self.registry.locations():
            macs.setdefault(location, set()).add(mac_hex(mac))
        self._macs = macs
        suffixes = {}
        for loc, hexes in macs.items():
            ends = suffixes[loc] = {}
            for h in hexes:
                ends[h[-4:]] = None if h[-4:] in ends else mac_stored(h)
        self._suffixes = suffixes
        self._owners = {}
        self._generation = self.registry.generation

    def belongs(self, topic, unit_id):
        return self.owner(topic, unit_id) is not None

    def owner(self, topic, unit_id):
        """The device a message speaks for: its stored MAC; `location/unitID` when two
        devices of the room share the unitID's four digits; None when none may use it."""
        self._refresh()
        key = (topic, unit_id)
        try:
            return self._owners[key]
        except (KeyError, TypeError):
            pass
        found = self._owner(topic, unit_id)
        if isinstance(unit_id, str) and len(self._owners) < MAX_CACHED:
            self._owners[key] = found
        return found

    def _owner(self, topic, unit_id):
        location, _, module = topic.rpartition("/")
        hexes = self._macs.get(location)
        if not hexes or not isinstance(unit_id, str):
            return None
        try:
            h = mac_hex(unit_id)
            return mac_stored(h) if h in hexes else None
        except ValueError:
            pass
        if module == "device":
            return None  # the device module speaks as the MAC itself
        head, sep, tail = unit_id.rpartition("_")
        tail = tail.lower()
        if not (sep and head) or tail not in self._suffixes[location]:
            return None
        return self._suffixes[location][tail] or "%s/%s" % (location, unit_id)
