"""The demo's live view: on a terminal, a compact table of the devices
redrawn in place; otherwise (input closed, output piped to a file or a
service's journal) one plain line per reading, nothing but text."""
import time

MODULE_SHORT = {"temperature": "temp", "humidity": "hum", "luminosity": "lux", "noise": "noise",
                "digital": "pir", "device": "dev"}


def _value(r):
    v = r["value"]
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "%.1f" % v
    return str(v)


class Console:
    """devices: [{"name", "mac", "kind", "where"}]; feed() the new readings, counts()
    the registry's per-device counts; show() draws."""

    def __init__(self, devices, write, tty):
        self.devices = devices
        self.write = write
        self.tty = tty
        self.latest = {d["mac"]: {} for d in devices}  # mac -> {module: reading}
        self.counts = {}
        self._drawn = 0
        self._names = {}

    def unit_names(self, table):
        """table: {(topic, unitID): device name} for the plain lines."""
        self._names = table

    def feed(self, mac, reading):
        self.latest.setdefault(mac, {})[reading["module"]] = reading
        if not self.tty:
            self.write("%s  %-10s %-22s %-11s %8s %-8s seq %s" % (
                time.strftime("%H:%M:%S", time.localtime(reading["received_at"])),
                self._name(mac), reading["topic"].rsplit("/", 1)[0], reading["module"], _value(reading),
                reading["value_units"] or "", reading.get("seq")))

    def _name(self, mac):
        for d in self.devices:
            if d["mac"] == mac:
                return d["name"]
        return mac

    def show(self, counts, elapsed, note=""):
        self.counts = counts
        if not self.tty:
            return
        lines = ["%-9s %-9s %-24s %6s %5s  %s" % ("device", "kind", "room", "stored", "miss", "latest")]
        for d in self.devices:
            c = counts.get(d["mac"], {})
            latest = self.latest.get(d["mac"], {})
            values = " ".join("%s %s" % (MODULE_SHORT.get(m, m), _value(r)) for m, r in sorted(latest.items()))
            lines.append("%-9s %-9s %-24s %6s %5s  %s" % (
                d["name"], d["kind"], d["where"][:24], c.get("received", 0), c.get("missing", 0), values[:60]))
        lines.append("%.0f s%s   (Ctrl-C stops)" % (elapsed, ("  " + note) if note else ""))
        # Back over the previous table and draw this one in its place.
        out = ("\x1b[%dF\x1b[J" % self._drawn if self._drawn else "") + "\n".join(lines)
        self._drawn = len(lines)  # the cursor ends below the table (write adds the newline)
        self.write(out)
