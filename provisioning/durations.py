"""Durations as an admin types them: "90", "90s", "15m", "1h", "2d" -> seconds."""
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text):
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("a duration such as 90s, 15m, 1h or 2d")
        t = text.strip().lower()
        scale = UNITS.get(t[-1])
        try:
            seconds = float(t[:-1] if scale else t) * (scale or 1)
        except ValueError:
            raise ValueError("%r is not a duration such as 90s, 15m, 1h or 2d" % text) from None
    if not 0 <= seconds <= 366 * 86400:
        raise ValueError("a duration between 0 and 366 days, not %r" % text)
    return seconds
