"""Running the Pi agent in tests: in this process (a thread, with its
simulated hardware at hand) or as `python -m rpi_agent` (to kill it)."""
import os
import pathlib
import subprocess
import sys
import threading

from rpi_agent import config
from rpi_agent.agent import Agent

ROOT = pathlib.Path(__file__).resolve().parents[2]


def agent_doc(stub_url, mac, state_dir, roles=("sensors",), **sections):
    doc = {"agent": {"server": stub_url, "mac": mac, "roles": list(roles), "state_dir": str(state_dir),
                     "credentials": os.path.join(str(state_dir), "credentials.json"),
                     "log_to_server": False, "handshake_retry": 1},
           "outbox": {"path": os.path.join(str(state_dir), "outbox.sqlite")},
           "metrics": {"listen": "127.0.0.1:0"}}
    for k, v in sections.items():
        doc.setdefault(k, {}).update(v)
    return doc


class AgentThread:
    """An Agent on simulated hardware, run in a thread: `with AgentThread(doc, hw) as a:`."""

    def __init__(self, doc, hw):
        self.cfg = config.parse(doc, simulate=True)
        self.agent = Agent(self.cfg, hw)
        self.stop = threading.Event()
        self.error = None

    def __enter__(self):
        assert self.agent.setup(self.stop.is_set)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self.agent

    def _run(self):
        try:
            self.agent.run(self.stop)
        except BaseException as e:  # shown by the test that joins
            self.error = e
            raise

    def __exit__(self, *exc):
        self.stop.set()
        self.agent.wake.set()
        self.thread.join(15)
        assert not self.thread.is_alive(), "the agent did not stop"
        assert self.error is None, self.error


def agent_process(args, log_path, env=None, popen=None):
    """`python -m rpi_agent ARGS` with stdin closed, output to log_path."""
    e = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    e.update(env or {})
    out = open(log_path, "ab")
    return subprocess.Popen([sys.executable, "-m", "rpi_agent", *args], stdin=subprocess.DEVNULL,
                            stdout=out, stderr=subprocess.STDOUT, env=e, cwd=str(ROOT), **(popen or {}))
