"""The guide in docs/ cannot rot: every command block of the getting-started
page is run, in order, by bash against one virtual board (blank: MicroPython
only, an SHT31 on its bus) and one server stub, with the variables the page
tells a student to set; the driver-writing page shows the code base's files
as they are and its example runs; the wiring pictures are what the table
draws (tests/test_wiring_guide.py checks the pictures themselves)."""
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

from harness import ROOT, need
from toolchain import micropython as upy
from virtual_board import VirtualBoard

DOCS = ROOT / "docs"
WIFI = ("lab", "secret")

# A fenced block, with the `<!-- test: ... -->` comment just before it (if any).
BLOCK = re.compile(r"(?:<!-- test: (?P<how>[^>]*?) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)


def blocks(page, lang):
    return [(m.group("how") or "", m.group("body")) for m in BLOCK.finditer((DOCS / page).read_text())
            if m.group("lang") == lang]


def test_the_readme_links_the_guide_and_every_link_of_the_guide_resolves():
    assert "(docs/README.md)" in (ROOT / "README.md").read_text()
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+)\)", page.read_text()):
            if "://" not in target:
                assert (page.parent / target).exists(), (page.name, target)


@pytest.fixture(scope="module")
def bench(stub, tmp_path_factory):
    if upy.unavailable_reason():
        need(upy.unavailable_reason())
    b = VirtualBoard("aa:bb:cc:00:18:10", blank=True, repl="socket://127.0.0.1:0", wifi=WIFI, echo=False,
                     flash_dir=tmp_path_factory.mktemp("flash"), chips=["sht3x@0x44:temperature=21,humidity=50"],
                     heap="45k")
    b.start()
    b.wait_for(r'Type "help\(\)"', 30)
    yield b
    b.stop()


def run(body, env, cwd, timeout=120):
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", body], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def interrupted(body, env, cwd, after, expect):
    """Started, interrupted (Ctrl-C) once `expect` was printed and `after` s passed."""
    p = subprocess.Popen(["bash", "-e", "-c", body], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    fd = p.stdout.fileno()
    os.set_blocking(fd, False)
    out, t0 = b"", time.monotonic()
    try:
        while time.monotonic() - t0 < 60 and (expect.encode() not in out or time.monotonic() - t0 < after):
            try:
                out += os.read(fd, 65536)
            except BlockingIOError:
                time.sleep(0.1)
        os.killpg(p.pid, signal.SIGINT)
        os.set_blocking(fd, True)
        rest, _ = p.communicate(timeout=30)
        return p.returncode, (out + (rest or b"")).decode(errors="replace")
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)


@pytest.mark.slow
def test_every_command_block_of_getting_started_runs(bench, stub, tmp_path):
    env = dict(os.environ, PORT="socket://%s:%d" % bench.repl, NEOC_SERVER=stub.url, NEOC_TOKEN=stub.token,
               NEOC_WIFI_PASSWORD=WIFI[1], PATH=str(pathlib.Path(sys.executable).parent) + os.pathsep
               + os.environ.get("PATH", ""))
    cmds = blocks("getting-started.md", "sh")
    assert len(cmds) == 5, "the test knows each block of the page: update it with the page"
    for how, body in cmds:
        words = re.findall(r'"([^"]*)"', how)
        if how.startswith("interrupt after"):
            after = float(re.search(r"after (\d+(?:\.\d+)?) s", how).group(1))
            code, out = interrupted(body, env, tmp_path, after, words[0])
            assert code == 0 and words[0] in out, (body, out)
        elif how.startswith("until"):
            within = float(re.search(r"within (\d+) s", how).group(1))
            deadline = time.monotonic() + within
            while True:
                r = run(body, env, tmp_path)
                assert r.returncode == 0, (body, r.stdout + r.stderr)
                if words[0] in r.stdout or time.monotonic() > deadline:
                    break
                time.sleep(2)
            assert words[0] in r.stdout, (body, r.stdout)
        else:
            r = run(body, env, tmp_path)
            assert r.returncode == 0, (body, r.stdout + r.stderr)
            for w in words:
                assert w in r.stdout, (body, r.stdout + r.stderr)


def test_writing_a_driver_shows_the_code_base_as_it_is_and_its_example_runs(tmp_path):
    text = (DOCS / "writing-a-driver.md").read_text()
    shown = re.findall(r"<!-- file: (\S+) -->\n```python\n(.*?)```", text, re.S)
    assert {path for path, _ in shown} >= {"drivers/sim/mcp9808.py", "drivers/mcp9808.py"}
    for path, code in shown:
        assert code == (ROOT / path).read_text(), "%s on the page differs from the file: copy it again" % path
    examples = blocks("writing-a-driver.md", "python")
    runnable = [body for how, body in examples if how == "run"]
    assert runnable, "the page's example is marked <!-- test: run -->"
    for body in runnable:
        script = tmp_path / "example.py"
        script.write_text(body)
        r = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stdout + r.stderr
    for test in re.findall(r"`(tests/[a-z0-9_/]+\.py)`", text):
        assert (ROOT / test).exists(), test
