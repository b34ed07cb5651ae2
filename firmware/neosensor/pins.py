# The I2C pins of each board kind: board -> (SDA, SCL) GPIOs. The neOSensor
# ESP8266 wires SDA to GPIO14 and SCL to GPIO12; ESP32 boards use 21 and 22.
# The set-up phase reads it and drops it (setup.py); the virtual board runner
# (provisioning/virtual_board.py) reads this file as data, so both wire the
# bus alike. Plain data only: nothing to import.
PINS = {"esp8266": (14, 12), "esp32": (21, 22)}
