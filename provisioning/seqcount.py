"""Per-device reading counts from `seq`: received, missing, duplicates, restarts.

A device numbers its readings with one counter for all its modules (the
firmware and the Pi agent keep it across reboots, on the flash and in the
outbox file), so the counting is per device, not per sensor:
- a seq above the device's highest is new; the numbers it skipped are
  `missing` (a gap is counted between readings seen, never before the first);
- a seq at or below the highest is looked up in the store (by the unique key
  topic, unitID, subID, epoch, seq): absent, it fills a gap (late, e.g. a
  resend after a reconnection; `missing` goes down); present with the same
  value, it is a `duplicate` and is not stored again (a redelivery, or the
  firmware sending again up to 31 acknowledged readings after a reset); present
  with another value, the device's counter started again (factory reset, erased
  flash, a device that keeps no counter): a new `epoch` begins, counted in
  `restarts`, and neither a gap nor duplicates are counted for it.

Everything is decided before the batch is written and applied only once the
transaction committed (Batch.commit), so a batch the store refused and retries
later is counted once.
"""

# (epoch, high, received, missing, duplicates, restarts); high -1: no seq seen yet
EPOCH, HIGH, RECEIVED, MISSING, DUPLICATES, RESTARTS = range(6)
FIELDS = ("epoch", "last_seq", "received", "missing", "duplicates", "restarts")
NEW = (0, -1, 0, 0, 0, 0)


def public(state):
    """The counts as the API shows them."""
    s = state or NEW
    return {"received": s[RECEIVED], "missing": s[MISSING], "duplicates": s[DUPLICATES],
            "restarts": s[RESTARTS], "last_seq": s[HIGH] if s[HIGH] >= 0 else None}


class SeqCounts:
    """In-memory counts of every device, loaded once from the store."""

    def __init__(self, loaded=None):
        self.states = dict(loaded or {})  # device key -> list, the indexes above

    def batch(self, lookup):
        """lookup(topic, unit_id, sub_id, epoch, seq) -> the stored value text or None."""
        return Batch(self, lookup)


class Batch:
    def __init__(self, counts, lookup):
        self.counts = counts
        self.lookup = lookup
        self.touched = {}   # device key -> a copy of its state, written back on commit
        self.planned = {}   # unique key -> value text of the rows of this batch
        self.missing = self.duplicates = self.restarts = 0

    def _state(self, device):
        s = self.touched.get(device)
        if s is None:
            s = self.touched[device] = list(self.counts.states.get(device, NEW))
        return s

    def reading(self, device, topic, unit_id, sub_id, seq, value):
        """-> the epoch to store the reading under, or None for a duplicate (not stored)."""
        s = self._state(device)
        if seq is None:
            s[RECEIVED] += 1
            return 0
        epoch = s[EPOCH]
        if seq > s[HIGH]:
            if s[HIGH] >= 0 and seq > s[HIGH] + 1:
                s[MISSING] += seq - s[HIGH] - 1
                self.missing += seq - s[HIGH] - 1
            s[HIGH] = seq
        else:
            key = (topic, unit_id, sub_id or "", epoch, seq)
            stored = self.planned[key] if key in self.planned else self.lookup(topic, unit_id, sub_id, epoch, seq)
            if stored is None:
                if s[MISSING]:  # a gap filled late
                    s[MISSING] -= 1
                    self.missing -= 1
            elif stored == value:
                s[DUPLICATES] += 1
                self.duplicates += 1
                return None
            else:  # the same seq for another reading: the counter started again
                epoch = s[EPOCH] = epoch + 1
                s[HIGH] = seq
                s[RESTARTS] += 1
                self.restarts += 1
        s[RECEIVED] += 1
        self.planned[(topic, unit_id, sub_id or "", epoch, seq)] = value
        return epoch

    def refused(self, device):
        """A planned reading the store refused: not received after all."""
        self.touched[device][RECEIVED] -= 1

    def rows(self):
        """(device, epoch, high, received, missing, duplicates, restarts) of every device touched."""
        return [(device,) + tuple(s) for device, s in self.touched.items()]

    def commit(self):
        self.counts.states.update(self.touched)
