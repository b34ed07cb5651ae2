"""`neoc demo` as a newcomer runs it (input closed, output piped): three boards
flashed with `neoc flash` and two simulated Pis store readings with nothing
missing, on the embedded broker and on Mosquitto (both at once: the test's time
is one run's); the live page shows every device in headless Chromium (and, with
NEOC_SCREENSHOT=PATH, is saved there: `make screenshot`); a step that fails
says which and why and stops the rest; Ctrl-C stops everything. Each run
leaves no process behind (support/proctree.py)."""
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from harness import ROOT, need
from provisioning import mosquitto as mq
from support import proctree
from support.chromium import browser  # noqa: F401 (a fixture)
from toolchain import micropython as upy

pytestmark = [pytest.mark.slow, pytest.mark.micropython]

ROW = re.compile(r"^(board-\d|pi-\d)\s+(neosensor|pi|display)\s+(.+?)\s+(\d+)\s+(\d+)\s+(\d+)$")


@pytest.fixture(autouse=True)
def _tools():
    if upy.unavailable_reason():
        need(upy.unavailable_reason())


class Run:
    """`neoc demo ARGS` in the background, its output read line by line."""

    def __init__(self, *args):
        self.env, self.mark = proctree.marked_env()
        self.proc = subprocess.Popen([sys.executable, "-m", "neoc", "demo", *args], cwd=ROOT,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=self.env)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()

    def _pump(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_line(self, pattern, timeout):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                assert left > 0 and self.proc.poll() is None, "no line %r:\n%s" % (pattern, self.text())
                self.cond.wait(min(left, 0.5))

    def finish(self, timeout):
        self.proc.wait(timeout)
        self.reader.join(5)
        return self.proc.returncode

    def text(self):
        return "\n".join(self.lines)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        proctree.kill(self.mark)


def summary_rows(text):
    return {m.group(1): (m.group(2), int(m.group(4)), int(m.group(5))) for m in
            (ROW.match(line) for line in text.splitlines()) if m}


def check_campus(run):
    out = run.text()
    assert "summary: 5/5 devices booted" in out, out
    rows = summary_rows(out)
    assert sorted(rows) == ["board-1", "board-2", "board-3", "pi-2"], out
    for name, (kind, stored, missing) in rows.items():
        assert stored > 0 and missing == 0, (name, out)
    shown = re.search(r"^pi-1\s+display\s+.*showing (\d+) sensors of U4 / Salle 302$", out, re.M)
    assert shown and int(shown.group(1)) > 0, out       # the display Pi shows the room's readings
    assert "errors: none" in out, out
    # Plain lines (no terminal): no cursor movement, one line per reading.
    assert "\x1b" not in out and re.search(r"^\d\d:\d\d:\d\d  board-1 ", out, re.M), out
    assert proctree.alive(run.mark) == [], "left behind: %s" % proctree.alive(run.mark)


def test_the_campus_on_embedded_and_on_mosquitto_and_on_the_live_page(browser):  # noqa: F811
    if mq.find("mosquitto") is None:
        need("Mosquitto is not installed: `sudo apt-get install mosquitto`")
    runs = [Run("--duration", "40"), Run("--duration", "40", "--broker", "mosquitto")]
    try:
        url = runs[0].wait_line(r"^live page:\s+(http://127\.0\.0\.1:\d+/)$", 120).group(1)
        # The tree the check below looks at: the demo, its stub, three VMs, two agents at least.
        assert len(proctree.alive(runs[0].mark)) >= 7, proctree.alive(runs[0].mark)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_selector("#conn.live", timeout=15000)
        # Every board and the sensors Pi have readings stored, counted on the page.
        for mac in ["02:DE:A0:00:01:01", "02:DE:A0:00:01:02", "02:DE:A0:00:01:03", "02:DE:A0:00:02:02"]:
            try:
                page.wait_for_function(
                    "m => { const c = document.querySelector(`tr[data-mac='${m}'] td.received`);"
                    " return c && Number(c.textContent) > 0; }", arg=mac, timeout=30000)
            except Exception as e:  # which device, what the page and the demo said
                rows = page.eval_on_selector_all("tr[data-mac]", "rs => rs.map(r => r.innerText)")
                raise AssertionError("%s: no reading counted on the page in 30 s (%s)\npage rows:\n%s\ndemo:\n%s"
                                     % (mac, e, "\n".join(rows), runs[0].text()[-3000:])) from None
        assert page.locator("[data-room='u4/salle_302'] .card").count() >= 3
        assert page.locator("tr[data-mac='02:DE:A0:00:02:01']").count() == 1  # the display Pi
        shot = os.environ.get("NEOC_SCREENSHOT")
        if shot:
            page.wait_for_timeout(8000)  # a few more points on the sparklines
            page.screenshot(path=shot, full_page=True)
        assert errors == []
        page.close()
        for run in runs:
            assert run.finish(150) == 0, run.text()
        for run in runs:
            check_campus(run)
        assert "mosquitto broker" in runs[1].text()
    finally:
        for run in runs:
            run.close()


def test_a_step_that_fails_says_which_and_why_and_stops_the_rest():
    # 24 KB of heap: too little for neoc flash's own work on the board.
    run = Run("--boards", "1", "--pis", "1", "--heap", "24k", "--duration", "5")
    try:
        assert run.finish(120) == 1, run.text()
        out = run.text()
        assert re.search(r"^demo: step 'flash' failed: neoc flash socket://127\.0\.0\.1:\d+ \(board-1\) exited 1:",
                         out, re.M), out
        assert "MemoryError" in out and "the steps after it were not run" in out, out
        assert "[agents] done" in out and "[boards] done" in out and "[boot]" not in out, out
        assert "summary" not in out
        assert proctree.alive(run.mark) == [], proctree.alive(run.mark)
    finally:
        run.close()


def test_ctrl_c_stops_everything_after_a_summary():
    run = Run("--boards", "1", "--pis", "1")
    try:
        run.wait_line(r"^\d\d:\d\d:\d\d  board-1 ", 120)
        run.wait_line(r"^\d\d:\d\d:\d\d  pi-1 ", 60)
        os.kill(run.proc.pid, signal.SIGINT)
        assert run.finish(60) == 0, run.text()
        out = run.text()
        assert "stopping" in out and "summary: 2/2 devices booted" in out, out
        assert proctree.alive(run.mark) == [], proctree.alive(run.mark)
    finally:
        run.close()
