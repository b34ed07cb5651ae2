# Freeze manifest for a neOSensor MicroPython build (ESP8266/ESP32):
#   make -C ports/esp8266 BOARD=ESP8266_GENERIC FROZEN_MANIFEST=/path/to/firmware/manifest.py
# Frozen bytecode runs from flash: the app, the portable core, the drivers and
# umqtt then cost no heap, which is how this firmware fits the ESP8266's
# ~36 KB (loaded from .mpy files, as `neoc flash` deploys them, the same code
# lives in the heap). boot.py, main.py and config.json stay on the filesystem.
# tests/test_firmware_manifest.py checks this list against what deploy() ships.
import os

include("$(PORT_DIR)/boards/manifest.py")
package("neosensor", base_path=".")
package("umqtt", files=("simple.py",), base_path="lib")
package("neocampus", base_path="..")
# Every module of drivers/ (a new chip's file is frozen as soon as it is
# there), not its chip models in drivers/sim/. makemanifest runs this file
# with the manifest's folder as the current directory, hence "../drivers".
package("drivers", base_path="..", files=sorted(f for f in os.listdir("../drivers") if f.endswith(".py")))
