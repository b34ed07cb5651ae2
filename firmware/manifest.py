# Freeze manifest for a neOSensor MicroPython build (ESP8266/ESP32):
#   make -C ports/esp8266 BOARD=ESP8266_GENERIC FROZEN_MANIFEST=/path/to/firmware/manifest.py
# Frozen bytecode runs from flash: the app, the portable core, the drivers and
# umqtt then cost no heap, which is how this firmware fits the ESP8266's
# ~36 KB (loaded from .mpy files, as `neoc flash` deploys them, the same code
# lives in the heap). boot.py, main.py and config.json stay on the filesystem.
# tests/test_firmware_manifest.py checks this list against what deploy() ships.
include("$(PORT_DIR)/boards/manifest.py")
package("neosensor", base_path=".")
package("umqtt", files=("simple.py",), base_path="lib")
package("neocampus", base_path="..")
package("drivers", base_path="..", files=(
    "__init__.py", "_busio.py", "_smbus.py", "bme280.py", "bus.py", "crc.py", "max44009.py", "mcp47x6.py",
    "mcp9808.py", "scan.py", "scd4x.py", "sht2x.py", "sht3x.py", "tsl2561.py", "tsl2591.py",
))
