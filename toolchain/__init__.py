"""The firmware toolchain: what turns firmware/ into what a board runs, and
the MicroPython VMs that run it here.

    micropython  the unix port (64-bit): run code, start the VM of a virtual board
    wasm         the WebAssembly port (32-bit), where the heap is counted as on an ESP8266
    mpy          mpy-cross: sources to bytecode
    firmware     where the firmware's sources are, and facts read from them without importing
    deploy       a firmware tree as files (.mpy or .py) or a ROMFS image, and /config.json

Used by the virtual board, the benchmarks, the flashing tool and the tests;
it imports nothing above it (drivers, neocampus, provisioning, neoc).
"""
