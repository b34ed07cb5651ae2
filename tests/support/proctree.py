"""Which processes a command left behind: every child inherits the environment,
so a mark put in the command's own finds its whole tree in /proc, orphans
(re-parented to init) included."""
import os
import pathlib
import signal
import uuid

MARK = "NEOC_TEST_TREE"


def marked_env(env=None):
    """(environment with a fresh mark, the mark)."""
    mark = uuid.uuid4().hex
    env = dict(os.environ if env is None else env)
    env[MARK] = mark
    return env, mark


def alive(mark):
    """[(pid, command line)] of the live processes holding the mark (zombies left out)."""
    needle = ("%s=%s" % (MARK, mark)).encode()
    found = []
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if needle not in (d / "environ").read_bytes().split(b"\0"):
                continue
            if (d / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            found.append((int(d.name), (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")))
        except OSError:
            continue
    return found


def kill(mark):
    for pid, _ in alive(mark):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
