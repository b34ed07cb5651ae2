"""A broker outage with a SIGKILL in the middle loses nothing and duplicates
nothing: Mosquitto stopped, the agent goes on storing readings, is killed
with SIGKILL (its whole process group, as systemd's KillMode does), starts
again, Mosquitto comes back: every seq arrives exactly once in the collector.

The outage is 15 s by default, not the issue's 60 s: the agent stores about
one reading a second (its simulated serial board) in the outbox either way,
and 15 s puts readings from both agent processes into the backlog, which is
what the test is about; NEOC_AGENT_OUTAGE_S=60 runs the issue's figure. The
broker is this test's own Mosquitto on the stub's files (`--broker
external`), so the test can stop it; on its restart the agent's
login is let in only once the collector is back (its subscription is not
persistent: a reading delivered before it subscribes would reach no one)."""
import os
import pathlib
import re
import signal
import subprocess
import threading
import time

import pytest

from provisioning import mosquitto as mq
from provisioning.stub_process import StubServer
from support.agent_helpers import agent_process
from support.stub_helpers import wait_until

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

MAC = "02:aa:bb:cc:0a:6e"
OUTAGE_S = int(os.environ.get("NEOC_AGENT_OUTAGE_S", "15"))


class Broker:
    """Mosquitto on the stub's config; reloaded whenever the stub rewrites its files."""

    def __init__(self, stub_dir, work):
        self.files = pathlib.Path(stub_dir) / "mosquitto"
        self.work = pathlib.Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.log = self.work / "mosquitto.log"
        self.passwd = self.work / "passwd"
        self.proc = None
        self.only = None
        self._stop = threading.Event()
        threading.Thread(target=self._follow, daemon=True).start()

    def _conf(self):
        text = (self.files / "mosquitto.conf").read_text()
        text = re.sub(r"(?m)^password_file .*$", "password_file %s" % self.passwd, text)
        text = re.sub(r"(?m)^log_dest .*$", "log_dest file %s\nlog_type subscribe" % self.log, text)
        conf = self.work / "mosquitto.conf"
        conf.write_text(text)
        return conf

    def _copy_passwd(self):
        lines = (self.files / "passwd").read_text().splitlines(True)
        if self.only is not None:
            lines = [l for l in lines if l.split(":", 1)[0] in self.only]
        self.passwd.write_text("".join(lines))

    def _follow(self):
        seen = None
        while not self._stop.wait(0.1):
            stamp = [(self.files / f).stat().st_mtime_ns for f in ("passwd", "acl")]
            if stamp != seen and self.proc is not None:
                seen = stamp
                self.reload()

    def reload(self):
        self._copy_passwd()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)

    def subscribed(self):
        """How many times the collector subscribed to its readings (this log spans restarts)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return len(re.findall(r"(?m) neoc_collector \d \+/\+/\+$", text))

    def start(self, port, only=None):
        self.only = only
        self._copy_passwd()
        self.proc = subprocess.Popen([mq.find("mosquitto"), "-c", str(self._conf())], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        assert mq.wait_port("127.0.0.1", port, 10, self.proc), "Mosquitto did not start on %d (exit %s): %s" % (
            port, self.proc.poll(), self.log.read_text(errors="replace")[-1500:] if self.log.exists() else "no log")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def close(self):
        self._stop.set()
        self.stop()


def _seqs(stub):
    rows = stub.admin.readings(topic="u4/outage", limit=100000)
    return [r["seq"] for r in rows if r["unitID"].endswith("_0a6e")]


def test_outage_and_sigkill_lose_and_duplicate_nothing(tmp_path):
    if mq.find("mosquitto") is None or mq.find("mosquitto_passwd") is None:
        pytest.skip("Mosquitto is not installed: `sudo apt-get install mosquitto`")
    port = mq.free_port()
    stub = StubServer(tmp_path / "stub", broker="external", mqtt_port=port)
    stub.start()
    broker = Broker(stub.data_dir, tmp_path / "broker")
    procs = []
    try:
        broker.start(port)
        # The collector subscribed before the agent's first reading (or that reading reaches no one).
        assert wait_until(lambda: broker.subscribed() == 1, 15), broker.log.read_text()
        stub.admin.add_device(MAC, location="u4/outage")
        state = tmp_path / "state"
        conf = tmp_path / "agent.toml"
        conf.write_text('[agent]\nroles = ["concentrator"]\nlog_to_server = false\n[mqtt]\nbackoff_max = 2\n'
                        '[metrics]\nlisten = ""\n')
        args = ["--config", str(conf), "--simulate", "--server", stub.url, "--mac", MAC, "--state-dir", str(state)]
        log = tmp_path / "agent.log"

        def start_agent():
            p = agent_process(args, log, popen={"start_new_session": True})
            procs.append(p)
            return p

        start_agent()
        assert wait_until(lambda: len(_seqs(stub)) >= 3, 20), log.read_text()
        broker.stop()
        before = max(_seqs(stub))
        time.sleep(OUTAGE_S * 2 / 3)
        os.killpg(procs[-1].pid, signal.SIGKILL)
        procs[-1].wait(10)
        start_agent()
        time.sleep(OUTAGE_S / 3)
        # The collector first, the agent's login only once it is subscribed again.
        broker.start(port, only={"neoc_collector", "neoc_observer"})
        assert wait_until(lambda: broker.subscribed() == 2, 15), broker.log.read_text()
        broker.only = None
        broker.reload()
        # Everything stored during the outage arrives, then new readings on top.
        target = before + OUTAGE_S  # ~1.2 readings/s were stored during the outage
        assert wait_until(lambda: max(_seqs(stub)) >= target, 30), (before, max(_seqs(stub)), log.read_text())
        time.sleep(1)
        seqs = _seqs(stub)
        top = max(seqs)
        assert sorted(seqs) == list(range(top + 1)), sorted(set(range(top + 1)) - set(seqs))
        text = log.read_text()
        assert "outbox: " in text and "readings kept from before, sent first" in text
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
        broker.close()
        stub.stop()
