"""CANDIDATES, the scan's table in drivers/scan.py, is what
tools/gen_chip_table.py derives from the driver classes (ADDRESSES,
_IDENTITY), never stale (its order and sharing on both interpreters:
tests/portable/test_scan_table.py); the virtual board's chip names and pins
come from drivers/sim and the firmware's own pin table."""
import subprocess
import sys

import pytest

from harness import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import gen_chip_table as gen  # noqa: E402

from drivers.scan import CANDIDATES  # noqa: E402


def test_the_generated_table_is_current():
    # Regenerated in memory from the driver classes as they are now.
    assert gen.OUTPUT.read_text() == gen.generate(), (
        "the table in drivers/scan.py is stale (a driver's ADDRESSES or _IDENTITY changed, or a driver was "
        "added or removed): run %s and commit the result" % gen.COMMAND)


def test_check_mode_fails_on_a_stale_file_and_says_how_to_fix_it(tmp_path):
    out = tmp_path / "scan.py"
    out.write_text(gen.OUTPUT.read_text().replace('("drivers.tsl2591", "TSL2591")', '("drivers.tsl2591", "X")'))
    cmd = [sys.executable, str(ROOT / "tools" / "gen_chip_table.py"), "--output", str(out)]
    stale = subprocess.run(cmd + ["--check"], capture_output=True, text=True)
    assert stale.returncode == 1 and "make chips" in stale.stderr
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    assert out.read_text() == gen.OUTPUT.read_text()
    assert subprocess.run(cmd + ["--check"], capture_output=True, text=True).returncode == 0


def test_every_driver_is_a_candidate_at_each_of_its_addresses_and_nowhere_else():
    classes = gen.driver_classes()
    assert {c.__name__ for c in classes} == {"BME280", "MAX44009", "MCP47X6", "MCP9808", "SCD4X", "SHT2X",
                                             "SHT3X", "TSL2561", "TSL2591"}
    expected = {}
    for cls in classes:
        for address in cls.ADDRESSES:
            expected.setdefault(address, set()).add((cls.__module__, cls.__name__))
    assert {a: set(c) for a, c in CANDIDATES.items()} == expected


def test_only_the_marked_region_is_rewritten_and_the_markers_are_required():
    text = "a = 1\n%s\nold\n%s\nb = 2\n" % (gen.BEGIN, gen.END)
    assert gen.splice(text, "NEW") == "a = 1\nNEW\nb = 2\n"
    for broken in ("a = 1\n", gen.END + "\n" + gen.BEGIN + "\n", text + gen.BEGIN + "\n"):
        with pytest.raises(gen.TableError, match="want one"):
            gen.splice(broken, "NEW")


def _fake(name, addresses, identity=None, module="drivers.fake"):
    attrs = {"ADDRESSES": addresses, "__module__": module}
    if identity is not None:
        attrs["_IDENTITY"] = identity
    return type(name, (), attrs)


def test_equal_strengths_at_a_shared_address_are_refused():
    with pytest.raises(gen.TableError, match=r"0x29: drivers.fake.A and drivers.fake.B both have _IDENTITY = 2"):
        gen.table([_fake("A", (0x29,), 2), _fake("B", (0x29, 0x39), 2)])
    # Different addresses: equal strengths do not matter.
    assert gen.table([_fake("A", (0x29,), 2), _fake("B", (0x39,), 2)]) == {
        0x29: [("drivers.fake", "A")], 0x39: [("drivers.fake", "B")]}


def test_a_driver_without_identity_or_with_a_bad_address_is_refused():
    with pytest.raises(gen.TableError, match="drivers.fake.A declares ADDRESSES but no _IDENTITY"):
        gen.table([_fake("A", (0x29,))])
    with pytest.raises(gen.TableError, match="0x80 is no 7-bit I2C address"):
        gen.table([_fake("A", (0x80,), 1)])
    with pytest.raises(gen.TableError, match="want an int"):
        gen.table([_fake("A", (0x29,), "high")])


def test_a_new_driver_file_joins_the_table(tmp_path):
    # A driver package of three files: a driver, a bus helper, and a scan
    # module, which must not be imported (it is where the table goes).
    pkg = tmp_path / "newdrivers"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text("X = 1\n")
    (pkg / "scan.py").write_text("raise ImportError('the generator imported scan.py')\n")
    (pkg / "chip.py").write_text("class CHIP1:\n    ADDRESSES = (0x29, 0x30)\n    _IDENTITY = 1\n\n\n"
                                 "class CHIP2(CHIP1):\n    ADDRESSES = (0x29,)\n    _IDENTITY = 3\n")
    try:
        classes = gen.driver_classes(pkg, "newdrivers")
        text = gen.render(gen.table(classes))
    finally:
        for name in [n for n in sys.modules if n.startswith("newdrivers")]:
            del sys.modules[name]
        sys.path.remove(str(tmp_path))
    assert [c.__name__ for c in classes] == ["CHIP1", "CHIP2"]
    ns = {}
    exec(text, ns)
    assert ns["CANDIDATES"] == {0x29: (("newdrivers.chip", "CHIP2"), ("newdrivers.chip", "CHIP1")),
                                0x30: (("newdrivers.chip", "CHIP1"),)}
    assert text.startswith(gen.BEGIN) and text.endswith(gen.END)



# -- the virtual board's chip names: derived from drivers/sim's model modules --
def test_every_model_module_is_a_chip_name_and_htu21d_is_the_sht2x_model():
    from drivers.sim.base import Model
    from drivers.sim.registry import models
    found = models()
    files = {p.stem for p in (ROOT / "drivers" / "sim").glob("[!_]*.py")} - {"base", "bus", "registry"}
    assert set(found) == files | {"htu21d"}
    assert found["htu21d"] is found["sht2x"] and found["sht2x"].__name__ == "SHT2XModel"
    for name, cls in found.items():
        assert issubclass(cls, Model) and cls.__module__ == "drivers.sim." + ("sht2x" if name == "htu21d" else name)


def test_a_model_module_without_exactly_one_model_is_refused(monkeypatch):
    import types

    from drivers.sim import registry
    from drivers.sim.base import Model, RegisterModel
    two = types.ModuleType("drivers.sim.two")
    two.Model, two.RegisterModel = Model, RegisterModel  # imported bases do not count
    two.A = type("A", (Model,), {})
    two.B = type("B", (RegisterModel,), {})
    monkeypatch.setitem(sys.modules, "drivers.sim.two", two)
    with pytest.raises(TypeError, match="drivers.sim.two: want exactly one chip model class .* found A, B"):
        registry._model_class("drivers.sim.two")
    del two.A, two.B
    with pytest.raises(TypeError, match="found none"):
        registry._model_class("drivers.sim.two")


def test_board_run_knows_the_derived_names_and_lists_them_on_a_bad_one():
    from drivers.sim.registry import models
    from virtual_board import BoardError, parse_chip
    from virtual_board.hardware import Hardware
    with pytest.raises(BoardError) as info:
        parse_chip("nosuchchip@0x18")
    assert str(info.value) == "chip 'nosuchchip': known chips are " + ", ".join(models())
    hw = Hardware([parse_chip("htu21d@0x40:temperature=20"), parse_chip("tsl2591@0x29:lux=100")])
    assert type(hw.model(0x40)).__name__ == "SHT2XModel" and type(hw.model(0x29)).__name__ == "TSL2591Model"


def test_the_virtual_board_wires_i2c_where_the_firmware_looks(tmp_path):
    from toolchain.firmware import literal as firmware_literal
    from virtual_board import BOARDS
    # The firmware's neOSensor wiring, as the virtual board gives it to the fakes.
    assert BOARDS == {"esp8266": {"sda": 14, "scl": 12}, "esp32": {"sda": 21, "scl": 22}}
    src = tmp_path / "setup.py"
    src.write_text("import machine\nPINS = {'esp8266': (4, 5)}\ndef f():\n    PINS = 1\n")
    assert firmware_literal(src, "PINS") == {"esp8266": (4, 5)}
    src.write_text("PINS = dict(esp8266=(4, 5))\n")
    with pytest.raises(ValueError, match="PINS is no literal"):
        firmware_literal(src, "PINS")
    with pytest.raises(ValueError, match="no top-level QUANTITY"):
        firmware_literal(src, "QUANTITY")
