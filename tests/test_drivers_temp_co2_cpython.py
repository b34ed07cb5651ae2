"""CPython-only checks of the MCP9808, SHT3x, SHT2x and SCD4x drivers: the same
drivers over a bus that only speaks smbus2 (real smbus2.i2c_msg through
i2c_rdwr) or busio.I2C, and hypothesis round trips over the physical ranges."""
import pytest
from hypothesis import given, settings, strategies as st
from smbus2 import i2c_msg

from drivers import SensorError
from drivers.crc import crc8
from drivers.mcp9808 import MCP9808
from drivers.scd4x import SCD4X
from drivers.sht2x import SHT2X
from drivers.sht3x import SHT3X
from drivers.sim import SimBus
from drivers.sim.mcp9808 import MCP9808Model
from drivers.sim.scd4x import SCD4XModel
from drivers.sim.sht2x import SHT2XModel
from drivers.sim.sht3x import SHT3XModel


class View:
    """Only the named calls of a SimBus, plus its virtual sleep_ms so that the
    SCD4x's 5 s waits take no wall-clock time."""
    NAMES = ()

    def __init__(self, sim):
        self.sleep_ms = sim.sleep_ms
        for n in self.NAMES:
            setattr(self, n, getattr(sim, n))


class SMBusView(View):
    NAMES = ("read_byte", "close")

    def __init__(self, sim):
        View.__init__(self, sim)
        self._sim = sim

    def i2c_rdwr(self, *msgs):
        assert all(isinstance(m, i2c_msg) for m in msgs)
        self._sim.i2c_rdwr(*msgs)


class BusioView(View):
    NAMES = ("try_lock", "unlock", "scan", "writeto", "readfrom_into", "writeto_then_readfrom")


# driver, model, address, constructor kwargs, model settings, transactions per read()
CASES = [
    (MCP9808, MCP9808Model, 0x18, {}, {"temperature": -12.5}, 1),
    (SHT3X, SHT3XModel, 0x44, {}, {"temperature": 31.0, "humidity": 61.0}, 2),
    (SHT2X, SHT2XModel, 0x40, {}, {"temperature": 31.0, "humidity": 61.0}, 4),
    (SCD4X, SCD4XModel, 0x62, {"mode": "single"}, {"co2": 1234, "temperature": 24.0}, 3),
]


@pytest.mark.parametrize("view", [SMBusView, BusioView])
@pytest.mark.parametrize("cls,model_cls,addr,kw,values,per_read", CASES, ids=[c[0].CHIP for c in CASES])
def test_drivers_over_smbus2_and_busio(view, cls, model_cls, addr, kw, values, per_read):
    sim = SimBus()
    sim.attach(addr, model_cls(**values))
    sensor = cls(view(sim), addr, **kw)
    sim.reset_counters()
    got = sensor.read()
    assert sim.transactions == per_read  # same traffic as over machine.I2C
    for key, want in values.items():
        assert abs(got[key] - want) < 0.02, (key, got)
    sim.inject(addr, "nack")
    with pytest.raises(SensorError, match="%s@0x%02x: no ACK" % (cls.CHIP, addr)):
        sensor.read()
    sim.inject(addr, "timeout")
    with pytest.raises(SensorError, match="bus timeout"):
        sensor.read()
    assert not sim._locked


@settings(max_examples=150, deadline=None)
@given(t=st.floats(-40, 125), step=st.sampled_from([0.5, 0.25, 0.125, 0.0625]))
def test_mcp9808_round_trip_property(t, step):
    sim = SimBus()
    model = sim.attach(0x18, MCP9808Model(temperature=t))
    got = MCP9808(sim, resolution=step).read()["temperature"]
    assert abs(got - t) <= step / 2 + 1e-9


@settings(max_examples=150, deadline=None)
@given(t=st.floats(-40, 125), rh=st.floats(0, 100), rep=st.sampled_from(["high", "medium", "low"]))
def test_sht3x_round_trip_property(t, rh, rep):
    sim = SimBus()
    sim.attach(0x44, SHT3XModel(temperature=t, humidity=rh))
    got = SHT3X(sim, repeatability=rep).read()
    assert abs(got["temperature"] - t) <= 175 / 65535 / 2 + 1e-9
    assert abs(got["humidity"] - rh) <= 100 / 65535 / 2 + 1e-9


@settings(max_examples=150, deadline=None)
@given(t=st.floats(-40, 125), rh=st.floats(0, 100), res=st.sampled_from([(12, 14), (8, 12), (10, 13), (11, 11)]))
def test_sht2x_round_trip_property(t, rh, res):
    sim = SimBus()
    sim.attach(0x40, SHT2XModel(temperature=t, humidity=rh))
    got = SHT2X(sim, resolution=res).read()
    # Half a quantisation step of the chosen resolution (SHT21 datasheet 6.1/6.2).
    assert abs(got["temperature"] - t) <= 175.72 * 2 ** (16 - res[1]) / 65536 / 2 + 1e-9
    assert abs(got["humidity"] - rh) <= 125 * 2 ** (16 - res[0]) / 65536 / 2 + 1e-9


@settings(max_examples=100, deadline=None)
@given(co2=st.integers(0, 40000), t=st.floats(-10, 60), rh=st.floats(0, 100),
       mode=st.sampled_from(["periodic", "single"]))
def test_scd4x_round_trip_property(co2, t, rh, mode):
    sim = SimBus()
    sim.attach(0x62, SCD4XModel(co2=co2, temperature=t, humidity=rh))
    got = SCD4X(sim, mode=mode).read()
    assert got["co2"] == co2
    assert abs(got["temperature"] - t) <= 175 / 65535 / 2 + 1e-9
    assert abs(got["humidity"] - rh) <= 100 / 65535 / 2 + 1e-9


@given(data=st.binary(min_size=1, max_size=12))
def test_sensirion_crc_properties(data):
    assert crc8(b"\xbe\xef") == 0x92  # datasheet example (SHT3x 4.12, SCD4x 3.11)
    for init in (0xFF, 0x00):
        c = crc8(data, init=init)
        assert crc8(data + bytes((c,)), init=init) == 0  # no final XOR: the residue is 0
        flipped = bytes((data[0] ^ 0x01,)) + data[1:]
        assert crc8(flipped, init=init) != c  # any single-bit error is caught
