"""The firmware's reading payload shape (protocol document section 3), one
check for every producer: the agent's readings are held to it by the same
function as the payloads neocampus.payload writes for the firmware."""
import json

UNITS = {"temperature": "celsius", "humidity": "%r.H.", "luminosity": "lux", "noise": "pulses"}


def check_reading(topic, raw, unit_id=None):
    """The parsed payload, after asserting the firmware's shape for its module."""
    module = topic.rsplit("/", 1)[-1]
    text = raw.decode() if isinstance(raw, (bytes, bytearray)) else raw
    doc = json.loads(text)
    keys = list(doc)
    assert keys[0] == "value", (topic, text)           # the firmware's fixed key order
    assert isinstance(doc["unitID"], str) and doc["unitID"], (topic, text)
    if unit_id is not None:
        assert doc["unitID"] == unit_id, (topic, text)
    if "seq" in doc:
        assert isinstance(doc["seq"], int) and doc["seq"] >= 0, (topic, text)
        assert keys.index("seq") == keys.index("unitID") + 1, (topic, text)
    if module == "temperature":
        assert isinstance(doc["value"], float) and round(doc["value"], 3) == doc["value"], (topic, text)
    elif module in ("humidity", "luminosity", "noise"):
        assert isinstance(doc["value"], int) and not isinstance(doc["value"], bool), (topic, text)
    elif module == "digital":
        assert isinstance(doc["value"], bool) and isinstance(doc["input"], int), (topic, text)
        assert doc["type"] in ("presence", "on_off", "open_close"), (topic, text)
        assert "value_units" not in doc, (topic, text)
    if module in UNITS:
        assert doc["value_units"] == UNITS[module], (topic, text)
    if module in ("temperature", "humidity", "luminosity"):
        assert doc["subID"].isdigit() or doc["subID"].isidentifier(), (topic, text)
    # The wire form itself: CPython's default separators, keys in order, UTF-8 raw.
    assert json.dumps(doc, ensure_ascii=False) == text, text
    return doc
