"""drivers/candidates.py, the scan's table, is what tools/gen_chip_table.py
derives from the driver classes (ADDRESSES, _IDENTITY): never stale, shared
addresses in identity-strength order, one tuple per driver."""
import subprocess
import sys

import pytest

from harness import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import gen_chip_table as gen  # noqa: E402

from drivers.candidates import CANDIDATES  # noqa: E402


def test_the_generated_table_is_current():
    # Regenerated in memory from the driver classes as they are now.
    assert gen.OUTPUT.read_text() == gen.generate(), (
        "drivers/candidates.py is stale (a driver's ADDRESSES or _IDENTITY changed, or a driver was "
        "added or removed): run %s and commit the result" % gen.COMMAND)


def test_check_mode_fails_on_a_stale_file_and_says_how_to_fix_it(tmp_path):
    out = tmp_path / "candidates.py"
    out.write_text(gen.OUTPUT.read_text().replace("0x29: _TSL2591 + _TSL2561", "0x29: _TSL2561 + _TSL2591"))
    cmd = [sys.executable, str(ROOT / "tools" / "gen_chip_table.py"), "--output", str(out)]
    stale = subprocess.run(cmd + ["--check"], capture_output=True, text=True)
    assert stale.returncode == 1 and "make chips" in stale.stderr
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    assert out.read_text() == gen.OUTPUT.read_text()
    assert subprocess.run(cmd + ["--check"], capture_output=True, text=True).returncode == 0


def test_shared_addresses_try_the_most_specific_identity_first():
    # TSL2591 (ID register 0x12 = 0x50) before TSL2561 (a part-number nibble);
    # SCD4x (serial number with CRCs) before the MCP47x6 DAC (no ID register).
    assert CANDIDATES[0x29] == (("drivers.tsl2591", "TSL2591"), ("drivers.tsl2561", "TSL2561"))
    assert CANDIDATES[0x62] == (("drivers.scd4x", "SCD4X"), ("drivers.mcp47x6", "MCP47X6"))


def test_every_driver_is_a_candidate_at_each_of_its_addresses_and_nowhere_else():
    classes = gen.driver_classes()
    assert {c.__name__ for c in classes} == {"BME280", "MAX44009", "MCP47X6", "MCP9808", "SCD4X", "SHT2X",
                                             "SHT3X", "TSL2561", "TSL2591"}
    expected = {}
    for cls in classes:
        for address in cls.ADDRESSES:
            expected.setdefault(address, set()).add((cls.__module__, cls.__name__))
    assert {a: set(c) for a, c in CANDIDATES.items()} == expected


def test_each_driver_tuple_is_shared_by_its_addresses():
    # Allocation on the board: 8 MCP9808 addresses, one tuple.
    assert len({id(CANDIDATES[a]) for a in range(0x18, 0x20)}) == 1
    assert CANDIDATES[0x39] is CANDIDATES[0x49]
    assert CANDIDATES[0x62][1:] == CANDIDATES[0x60]


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
    # A driver package of three files: a driver, a bus helper, and a module
    # that imports the (not yet written) table, which must not be imported.
    pkg = tmp_path / "newdrivers"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text("X = 1\n")
    (pkg / "scan.py").write_text("from newdrivers.candidates import CANDIDATES\n")
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
    assert text.startswith("# Generated by tools/gen_chip_table.py")

