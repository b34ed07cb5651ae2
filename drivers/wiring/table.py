"""The one table of wiring: the boards' headers and the common breakout
boards' pinouts. The scan's advice (drivers/wiring/explain.py) and the
guide's pictures (tools/gen_wiring.py -> docs/wiring/) are drawn from it,
so a new board or chip is one row here and the pictures never drift.

Board headers are columns of silkscreen labels, top to bottom as the board
lies in the pictures; `i2c` points each of the four wires at (column, row).
The firmware's own pin table (firmware/neosensor/setup.py PINS) must agree
with `gpio`: tests/test_wiring_guide.py checks it.
"""

# Wire colours of the pictures, the usual ones of a lab's jumper wires.
WIRES = (("3V3", "#d62728"), ("GND", "#222222"), ("SDA", "#1f77b4"), ("SCL", "#e6b800"))

BOARDS = {
    "nodemcu": {
        "title": "ESP8266 NodeMCU (v2/v3)", "mcu": "esp8266",
        "header": [["D0", "D1", "D2", "D3", "D4", "3V3", "GND", "D5", "D6", "D7", "D8", "RX", "TX", "GND", "3V3"]],
        "i2c": {"3V3": (0, 5), "GND": (0, 6), "SDA": (0, 7), "SCL": (0, 8)},
        "gpio": {"SDA": 14, "SCL": 12},
        "where": "the header on the right, USB at the bottom",
    },
    "d1mini": {
        "title": "ESP8266 Wemos D1 mini", "mcu": "esp8266",
        "header": [["RST", "A0", "D0", "D5", "D6", "D7", "D8", "3V3"],
                   ["TX", "RX", "D1", "D2", "D3", "D4", "GND", "5V"]],
        "i2c": {"3V3": (0, 7), "GND": (1, 6), "SDA": (0, 3), "SCL": (0, 4)},
        "gpio": {"SDA": 14, "SCL": 12},
        "where": "both headers, antenna at the top",
    },
    "esp32": {
        "title": "ESP32 DevKit (30 pins)", "mcu": "esp32",
        "header": [["EN", "VP", "VN", "D34", "D35", "D32", "D33", "D25", "D26", "D27", "D14", "D12", "D13",
                    "GND", "VIN"],
                   ["D23", "D22", "TX0", "RX0", "D21", "D19", "D18", "D5", "TX2", "RX2", "D4", "D2", "D15",
                    "GND", "3V3"]],
        "i2c": {"3V3": (1, 14), "GND": (1, 13), "SDA": (1, 4), "SCL": (1, 1)},
        "gpio": {"SDA": 21, "SCL": 22},
        "where": "the header on the right, antenna at the top",
    },
    "pi": {
        "title": "Raspberry Pi 40-pin header", "mcu": "pi",
        # Physical pins 1, 3, ... 39 and 2, 4, ... 40.
        "header": [["3V3", "GPIO2", "GPIO3", "GPIO4", "GND", "GPIO17", "GPIO27", "GPIO22", "3V3", "GPIO10",
                    "GPIO9", "GPIO11", "GND", "ID_SD", "GPIO5", "GPIO6", "GPIO13", "GPIO19", "GPIO26", "GND"],
                   ["5V", "5V", "GND", "GPIO14", "GPIO15", "GPIO18", "GND", "GPIO23", "GPIO24", "GND", "GPIO25",
                    "GPIO8", "GPIO7", "ID_SC", "GND", "GPIO12", "GND", "GPIO16", "GPIO20", "GPIO21"]],
        "numbered": True,
        "i2c": {"3V3": (0, 0), "GND": (1, 2), "SDA": (0, 1), "SCL": (0, 2)},
        "gpio": {"SDA": 2, "SCL": 3},
        "where": "SD card at the left, pin 1 at the top left",
        "pullups": "the Pi has 1.8 kΩ pull-ups on GPIO2 and GPIO3: none to add",
    },
}

# Board types as the boards name themselves (the probe's "board") -> the
# boards of the table they may be.
KINDS = {"esp8266": ("nodemcu", "d1mini"), "esp32": ("esp32",), "pi": ("pi",)}

_PULLUPS_ON = "10 kΩ pull-ups on the breakout: nothing to add"

# Driver CHIP name -> the common breakout: pins in their order on the
# board's edge, the four I2C roles, address options and pull-ups.
BREAKOUTS = {
    "MCP9808": {
        "title": "MCP9808 breakout (Adafruit 1782 and clones)",
        "pins": ["VDD", "GND", "SCL", "SDA", "ALERT", "A2", "A1", "A0"],
        "i2c": {"3V3": "VDD", "GND": "GND", "SDA": "SDA", "SCL": "SCL"},
        "addresses": "0x18 with A0, A1, A2 open; each tied to VDD adds 1, 2, 4 (0x18 to 0x1F: eight on one bus)",
        "pullups": _PULLUPS_ON,
    },
    "SHT3x": {
        "title": "SHT30/SHT31 breakout (GY-SHT31-D, Adafruit 2857)",
        "pins": ["VIN", "GND", "SCL", "SDA", "ADR", "ALR"],
        "i2c": {"3V3": "VIN", "GND": "GND", "SDA": "SDA", "SCL": "SCL"},
        "addresses": "0x44 with ADR to GND or open; 0x45 with ADR to VIN",
        "pullups": _PULLUPS_ON,
    },
    "SHT2x": {
        "title": "SHT21/HTU21D breakout (GY-21, Adafruit HTU21D-F)",
        "pins": ["VIN", "GND", "SCL", "SDA"],
        "i2c": {"3V3": "VIN", "GND": "GND", "SDA": "SDA", "SCL": "SCL"},
        "addresses": "0x40 only: one per bus (a TCA9548A multiplexer for more)",
        "pullups": _PULLUPS_ON,
    },
    "TSL2561": {
        "title": "TSL2561 breakout (Adafruit 439 and clones)",
        "pins": ["VIN", "GND", "3Vo", "ADDR", "INT", "SDA", "SCL"],
        "i2c": {"3V3": "VIN", "GND": "GND", "SDA": "SDA", "SCL": "SCL"},
        "addresses": "0x39 with ADDR open; 0x29 with ADDR to GND; 0x49 with ADDR to 3V3",
        "pullups": _PULLUPS_ON,
    },
    "TSL2591": {
        "title": "TSL2591 breakout (Adafruit 1980)",
        "pins": ["VIN", "GND", "3Vo", "INT", "SDA", "SCL"],
        "i2c": {"3V3": "VIN", "GND": "GND", "SDA": "SDA", "SCL": "SCL"},
        "addresses": "0x29 only (shared with the TSL2561's ADDR-to-GND address: the scan tells them apart)",
        "pullups": _PULLUPS_ON,
    },
    "MAX44009": {
        "title": "MAX44009 breakout (GY-49)",
        "pins": ["VIN", "GND", "SCL", "SDA", "A0", "INT"],
        "i2c": {"3V3": "VIN", "GND": "GND", "SDA": "SDA", "SCL": "SCL"},
        "addresses": "0x4A with A0 to GND; 0x4B with A0 to VIN",
        "pullups": _PULLUPS_ON,
    },
    "BME280": {
        "title": "BME280 breakout (GY-BME280, 6 pins)",
        "pins": ["VCC", "GND", "SCL", "SDA", "CSB", "SDO"],
        "i2c": {"3V3": "VCC", "GND": "GND", "SDA": "SDA", "SCL": "SCL"},
        "addresses": "0x76 with SDO to GND; 0x77 with SDO to VCC (CSB to VCC or open for I2C)",
        "pullups": _PULLUPS_ON,
    },
    "SCD4x": {
        "title": "SCD40/SCD41 breakout (Adafruit 5187, Sensirion SEK)",
        "pins": ["VIN", "3Vo", "GND", "SCL", "SDA"],
        "i2c": {"3V3": "VIN", "GND": "GND", "SDA": "SDA", "SCL": "SCL"},
        "addresses": "0x62 only (shared with the MCP47x6 DAC's 0x62: the scan tells them apart)",
        "pullups": _PULLUPS_ON,
    },
    "MCP47x6": {
        "title": "MCP4706/4716/4726 DAC breakout",
        "pins": ["VCC", "GND", "SCL", "SDA", "VOUT"],
        "i2c": {"3V3": "VCC", "GND": "GND", "SDA": "SDA", "SCL": "SCL"},
        "addresses": "0x60 to 0x67, set at the factory (the part number's A-suffix): read it off the scan",
        "pullups": "no pull-ups on most DAC breakouts: add 4.7 kΩ from SDA and from SCL to 3V3",
    },
}

# Chips the project has no driver for, by the addresses they answer at: the
# usual suspects a scan names for an address no driver knows.
SUSPECTS = {}
for _lo, _hi, _what in (
        (0x0D, 0x0D, "QMC5883L compass"),
        (0x1E, 0x1E, "HMC5883L compass"),
        (0x20, 0x27, "PCF8574 or MCP23017 I/O expander (0x27: an LCD's I2C backpack)"),
        (0x23, 0x23, "BH1750 light sensor"),
        (0x29, 0x29, "VL53L0X distance sensor"),
        (0x38, 0x38, "AHT10/AHT20 humidity sensor"),
        (0x38, 0x3F, "PCF8574A I/O expander (0x3F: an LCD's I2C backpack)"),
        (0x3C, 0x3D, "SSD1306 or SH1106 OLED display"),
        (0x40, 0x40, "Si7021 humidity sensor, INA219 power monitor or PCA9685 PWM driver"),
        (0x41, 0x45, "INA219 power monitor"),
        (0x48, 0x4B, "ADS1115/ADS1015 ADC, PCF8591 or TMP102"),
        (0x50, 0x57, "AT24C EEPROM (0x57: the one on a DS3231 clock module)"),
        (0x53, 0x53, "ADXL345 accelerometer"),
        (0x5A, 0x5B, "CCS811 air-quality sensor or MLX90614 IR thermometer"),
        (0x5C, 0x5C, "BH1750 light sensor (ADDR high) or AM2320"),
        (0x68, 0x68, "DS3231/DS1307 real-time clock or MPU-6050 IMU"),
        (0x69, 0x69, "MPU-6050 IMU (AD0 high)"),
        (0x70, 0x77, "TCA9548A I2C multiplexer or HT16K33 LED driver"),
        (0x76, 0x77, "BMP280 or BME680 (Bosch, another chip ID), or MS5611"),
        (0x44, 0x45, "SHT4x or HDC1080-like sensor"),
        (0x18, 0x1F, "LIS3DH accelerometer or another temperature sensor"),
        (0x39, 0x39, "APDS-9960 gesture sensor"),
        (0x60, 0x60, "MCP4725 DAC or Si1145 UV sensor"),
        (0x62, 0x62, "MCP4725 DAC (A0 high)")):
    for _a in range(_lo, _hi + 1):
        SUSPECTS.setdefault(_a, []).append(_what)

# Units of the drivers' quantities, and the range a value can have in a
# room on Earth (beyond it, it is a fault, not weather).
UNITS = {"temperature": "°C", "humidity": "%RH", "pressure": "hPa", "lux": "lx", "co2": "ppm"}
RANGES = {"temperature": (-40.0, 125.0), "humidity": (0.0, 100.0), "pressure": (300.0, 1100.0),
          "lux": (0.0, 200000.0), "co2": (0.0, 40000.0)}


def pin_label(board, role):
    """The header label of `role` ("SDA", "3V3", ...) on `board` (a BOARDS key)."""
    b = BOARDS[board]
    col, row = b["i2c"][role]
    return b["header"][col][row]


def pin_name(board, role):
    """How a student finds it: "D5 (GPIO14)", "pin 3 (GPIO2)", "3V3"."""
    b = BOARDS[board]
    label = pin_label(board, role)
    col, row = b["i2c"][role]
    if b.get("numbered"):
        return "pin %d (%s)" % (2 * row + col + 1, label)
    gpio = b["gpio"].get(role)
    return label if gpio is None else "%s (GPIO%d)" % (label, gpio)
