"""Stand-ins for the concentrator's field side, for --simulate and tests:
socat pty pairs (one end for the agent, one for the fake), a board writing
JSON lines, and a Modbus RTU device (a pymodbus server) on the other end."""
import asyncio
import json
import os
import shutil
import struct
import subprocess
import threading
import time


class PtyPair:
    """`socat` linking two ptys, reachable as `agent_end` and `field_end` paths."""

    def __init__(self, directory, name):
        exe = shutil.which("socat")
        if exe is None:
            raise RuntimeError("socat is not installed: `sudo apt-get install socat`")
        os.makedirs(directory, exist_ok=True)
        self.agent_end = os.path.join(directory, name + "-agent")
        self.field_end = os.path.join(directory, name + "-field")
        for stale in (self.agent_end, self.field_end):  # left by a socat that was SIGKILLed
            if os.path.islink(stale):
                os.unlink(stale)
        self.proc = subprocess.Popen([exe, "pty,raw,echo=0,link=%s" % self.agent_end,
                                      "pty,raw,echo=0,link=%s" % self.field_end],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 5
        while not (os.path.exists(self.agent_end) and os.path.exists(self.field_end)):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("socat did not make its ptys")
            time.sleep(0.02)

    def stop(self):
        """Unplug: socat exits, both ptys and their links go."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class JsonLinesBoard(threading.Thread):
    """Writes `lines()` items (dicts as JSON, bytes as they are) every `period` s."""

    def __init__(self, path, period=1.0, lines=None):
        super().__init__(name="fake-board", daemon=True)
        self.path, self.period = path, period
        self.lines = lines or self._default
        self.written = 0
        self.stopping = threading.Event()

    def _default(self, n):
        yield {"module": "temperature", "value": round(19.5 + (n % 10) / 10, 2), "subID": "t1"}
        if n % 5 == 4:
            yield {"module": "humidity", "value": 50 + n % 3, "subID": "h1"}

    def run(self):
        try:
            with open(self.path, "wb", buffering=0) as f:
                n = 0
                while not self.stopping.is_set():
                    for item in self.lines(n):
                        f.write(item if isinstance(item, bytes) else json.dumps(item).encode() + b"\n")
                        self.written += 1
                    n += 1
                    self.stopping.wait(self.period)
        except OSError:
            pass  # unplugged under us

    def stop(self):
        self.stopping.set()


class ModbusDevice(threading.Thread):
    """A pymodbus RTU server on `path` (pymodbus's SimDevice): 64 holding
    registers from 0; set_int/set_float change them live, as a meter would."""

    def __init__(self, path, device_id=1, baudrate=9600):
        super().__init__(name="fake-modbus", daemon=True)
        from pymodbus.simulator import DataType, SimData, SimDevice
        self.path, self.baudrate, self.device_id = path, baudrate, device_id
        self.device = SimDevice(id=device_id, simdata=[SimData(address=0, count=64, values=0,
                                                               datatype=DataType.REGISTERS)])
        self.loop = None
        self.server = None
        self.pending = []
        self.ready = threading.Event()

    def set_int(self, address, value, signed=True):
        self._set(address, list(struct.unpack(">H", struct.pack(">h" if signed else ">H", value))))

    def set_float(self, address, value):
        self._set(address, list(struct.unpack(">2H", struct.pack(">f", value))))

    def _set(self, address, words):
        if self.server is None:
            self.pending.append((address, words))
            return
        fut = asyncio.run_coroutine_threadsafe(
            self.server.async_setValues(self.device_id, 16, address, words), self.loop)
        fut.result(5)

    def run(self):
        from pymodbus import FramerType
        from pymodbus.server import ModbusSerialServer
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)

        async def main():
            self.server = ModbusSerialServer(self.device, framer=FramerType.RTU, port=self.path,
                                             baudrate=self.baudrate)
            for address, words in self.pending:
                await self.server.async_setValues(self.device_id, 16, address, words)
            self.ready.set()
            await self.server.serve_forever()

        try:
            self.loop.run_until_complete(main())
        except Exception:
            pass
        finally:
            self.ready.set()

    def stop(self):
        if self.loop is not None and self.server is not None and self.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(5)
            except Exception:
                pass
            self.join(5)


class _Parts:
    def __init__(self, *parts):
        self.parts = parts

    def stop(self):
        for p in self.parts:
            p.stop()


def simulated_concentrator(cfg, state_dir):
    """A fake board and a Modbus device on pty pairs, written into `cfg`
    (the concentrator section) as one serial line and one Modbus device."""
    d = os.path.join(state_dir, "sim-ptys")
    line, rs485 = PtyPair(d, "serial0"), PtyPair(d, "rs485")
    board = JsonLinesBoard(line.field_end, period=1.0)
    board.start()
    dev = ModbusDevice(rs485.field_end, device_id=1)
    dev.set_int(0, 215)       # 21.5 degC in tenths
    dev.set_float(2, 48.0)    # %RH as a float32
    dev.start()
    dev.ready.wait(5)
    cfg["serial"].append({"port": line.agent_end, "baudrate": 9600, "unit": "board", "silent_after": 10})
    cfg["modbus"].append({"port": rs485.agent_end, "baudrate": 9600, "unit": "pac", "silent_after": 30,
                          "device_id": 1, "period": 5, "timeout": 1, "registers": [
                              {"address": 0, "type": "int16", "table": "holding", "scale": 0.1,
                               "module": "temperature", "subID": "t0"},
                              {"address": 2, "type": "float32", "table": "holding", "scale": 1,
                               "module": "humidity", "subID": "h0"}]})
    return [_Parts(board, dev, line, rs485)]
