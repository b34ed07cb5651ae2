"""Which device a message speaks for: its unitID must be one of a device
registered at the topic's location (the `device` module's MAC, a sensor
module's `<unit>_xxxx` with xxxx the MAC's last four hex digits).

The broker only knows that a login may publish in its room; this check stops a
device from recording statuses or readings under the identity of a device of
another room. Rebuilt from the registry when it changed (its generation).
"""
from neocampus.ids import mac_hex


class Units:
    def __init__(self, registry):
        self.registry = registry
        self._generation = None
        self._macs = {}      # location topic -> {12 hex digits}
        self._suffixes = {}  # location topic -> {last 4 hex digits}

    def _refresh(self):
        if self._generation == self.registry.generation:
            return
        macs = {}
        for location, mac in self.registry.locations():
            macs.setdefault(location, set()).add(mac_hex(mac))
        self._macs = macs
        self._suffixes = {loc: {h[-4:] for h in hexes} for loc, hexes in macs.items()}
        self._generation = self.registry.generation

    def belongs(self, topic, unit_id):
        self._refresh()
        location, _, module = topic.rpartition("/")
        hexes = self._macs.get(location)
        if not hexes or not isinstance(unit_id, str):
            return False
        try:
            return mac_hex(unit_id) in hexes
        except ValueError:
            pass
        if module == "device":
            return False  # the device module speaks as the MAC itself
        head, sep, tail = unit_id.rpartition("_")
        return bool(sep and head) and tail.lower() in self._suffixes[location]
