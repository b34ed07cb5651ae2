"""The Raspberry Pi agent: sensor node, connected display and concentrator roles
over the same sensOCampus handshake, module policy and payloads as the firmware
(neocampus/), with an on-disk outbox in front of MQTT. See README.md."""
__version__ = "0.1.0"
