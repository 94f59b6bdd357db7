"""Where the agent's socket cannot be put out of the target's sight (the soft
RLIMIT_NOFILE equals the hard one and may not be raised, as for a user in many
containers), run mode's agent closes it after its hello: the target sees no descriptor
of the agent's, and the monitor follows the process itself (its goodbye in the ring's
header, its end from a pidfd, an exec from the next image's hello).

Real processes under ``auditmon run`` started with that limit (``prlimit``) and, as
root, without CAP_SYS_RESOURCE (``capsh``); both agents, Debian's python3 too.
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from helpers import (
    AgentStream,
    agent_env,
    auditmon_command,
    constrained,
    other_cpython_or_skip,
    read_jsonl,
    system_python_or_skip,
    without_compiled_parts,
)

from auditmon import protocol

pytestmark = pytest.mark.system

# Lists its own descriptors (what CPython's test_subprocess's fd_status.py does, bounded
# by the limit), raises events, and ends as told.
TARGET = """
import os, signal, stat, sys
fds, sockets = [], []
for fd in range(os.sysconf("SC_OPEN_MAX")):
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        continue
    (sockets if stat.S_ISSOCK(mode) else fds).append(fd)
print(",".join(map(str, fds)), ",".join(map(str, sockets)), flush=True)
for i in range(int(sys.argv[1])):
    sys.audit("lone.tick", i)
how = sys.argv[2]
if how == "fork":
    pid = os.fork()
    if pid == 0:
        for i in range(100):
            sys.audit("lone.child", i)
        os._exit(0)
    os.waitpid(pid, 0)
elif how == "exec-python":
    os.execv(sys.executable, [sys.executable, "-c", "import sys; sys.audit('lone.after', 1)"])
elif how == "exec-true":
    os.execv("/bin/true", ["/bin/true"])
elif how == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
sys.exit(3)
"""


@pytest.fixture(scope="module")
def limited():
    """``constrained``, where it holds (it skips otherwise)."""
    constrained([])
    return constrained


def python_for(which: str) -> str:
    if which == "debian":
        return system_python_or_skip()
    return sys.executable if which == "venv" else other_cpython_or_skip(which)


def run(tmp_path, limited, python, kind, n, how, plain=False):
    script = tmp_path / "target.py"
    script.write_text(TARGET)
    target = [python, str(script), str(n), how]
    recording = tmp_path / "rec.jsonl"
    command = (
        target
        if plain
        else auditmon_command("run", "--headless", "--record", str(recording), "--", *target)
    )
    result = subprocess.run(
        limited(command), env=agent_env(kind), capture_output=True, text=True, timeout=300
    )
    records = [] if plain else read_jsonl(recording)
    return result, records


def by_pid(records, kind):
    found = {}
    for record in records:
        if record["type"] == kind:
            found.setdefault(record["pid"], []).append(record)
    return found


AGENTS = [("native", "venv"), ("python", "venv"), ("python", "debian"), ("python", "3.8")]


@pytest.mark.parametrize(("kind", "which"), AGENTS)
def test_the_target_sees_no_descriptor_and_every_event(tmp_path, limited, kind, which):
    python = python_for(which)
    plain, _ = run(tmp_path, limited, python, kind, 0, "exit", plain=True)
    result, records = run(tmp_path, limited, python, kind, 1000, "exit")
    assert result.returncode == plain.returncode == 3, result.stderr
    assert result.stdout.splitlines()[0] == plain.stdout.splitlines()[0]  # the same fds
    (process,) = [r for r in records if r["type"] == "process"]
    assert process["agent"] == ("native" if kind == "native" else "python")
    ticks = [e["args"][0] for e in records if e.get("event") == "lone.tick"]
    assert ticks == list(range(1000))
    (exit_record,) = [r for r in records if r["type"] == "exit"]
    assert exit_record["status"] == "exited"
    assert exit_record["exit_code"] == 3
    assert not [r for r in records if r["type"] == "dropped"]
    assert "cannot follow" not in result.stderr


@pytest.mark.parametrize(("kind", "which"), AGENTS)
def test_a_killed_process_leaves_its_events(tmp_path, limited, kind, which):
    result, records = run(tmp_path, limited, python_for(which), kind, 10000, "kill")
    assert result.returncode == -9 or result.returncode == 137, result.stderr
    ticks = [e["args"][0] for e in records if e.get("event") == "lone.tick"]
    dropped = sum(r["count"] for r in records if r["type"] == "dropped")
    assert ticks == list(range(len(ticks))) and len(ticks) + dropped >= 10000
    assert dropped <= 1
    (exit_record,) = [r for r in records if r["type"] == "exit"]
    assert exit_record["status"] == "disconnected"  # no goodbye, as with a socket
    assert exit_record["exit_code"] == -9


@pytest.mark.parametrize(("kind", "which"), AGENTS)
def test_a_forked_child_is_followed(tmp_path, limited, kind, which):
    result, records = run(tmp_path, limited, python_for(which), kind, 10, "fork")
    assert result.returncode == 3, result.stderr
    processes = by_pid(records, "process")
    assert len(processes) == 2
    events = by_pid(records, "event")
    (child,) = [pid for pid in processes if any(e["event"] == "lone.child" for e in events[pid])]
    assert [e["args"][0] for e in events[child] if e["event"] == "lone.child"] == list(range(100))
    exits = by_pid(records, "exit")
    assert [e["status"] for e in exits[child]] == ["disconnected"]  # os._exit: no goodbye
    assert [e["status"] for e in exits[next(p for p in processes if p != child)]] == ["exited"]


@pytest.mark.parametrize(("kind", "which"), AGENTS)
def test_exec_ends_the_image(tmp_path, limited, kind, which):
    """Into Python: the next image's hello ends the first; into another program: the
    first ends with the process (a pidfd does not tell an exec), its goodbye kept."""
    result, records = run(tmp_path, limited, python_for(which), kind, 5, "exec-python")
    assert result.returncode == 0, result.stderr
    images = [r for r in records if r["type"] == "process"]
    assert len(images) == 2 and images[0]["pid"] == images[1]["pid"]
    names = [e["event"] for e in records if e["type"] == "event"]
    assert names.index("lone.tick") < names.index("os.exec") < names.index("lone.after")
    exits = [r for r in records if r["type"] == "exit"]
    assert [e["status"] for e in exits] == ["exited", "exited"]
    assert exits[0]["time"] <= images[1]["start"]

    result, records = run(tmp_path, limited, python_for(which), kind, 5, "exec-true")
    assert result.returncode == 0, result.stderr
    (exit_record,) = [r for r in records if r["type"] == "exit"]
    assert exit_record["status"] == "exited"
    assert [e["event"] for e in records if e["type"] == "event"][-1] == "os.exec"


def test_cpython_pass_fds_tests_pass(tmp_path, limited):
    """CPython's own test_subprocess tests of inherited descriptors, which list the
    child's: under auditmon as without it, with the limit where the agent's socket
    would have been in their sight."""
    tests = ["-m", "test", "test_subprocess", "-m", "test_pass_fds*", "-m", "test_close_fds*"]
    plain = subprocess.run(
        limited([sys.executable, *tests]), env=agent_env("native"), capture_output=True, text=True
    )
    under = subprocess.run(
        limited(auditmon_command("run", "--headless", "--", sys.executable, *tests)),
        env=agent_env("native"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert plain.returncode == 0, plain.stdout[-3000:]
    assert under.returncode == 0, under.stdout[-3000:] + under.stderr[-3000:]


def test_without_the_c_helper_3_13_maps_the_ring_with_no_descriptor(tmp_path):
    """Where the agent's C helper was not built (no compiler at install), the
    pure-Python agent maps its ring with Python's mmap: from 3.13 told to keep no copy of
    the descriptor (before, it keeps one: the README's known limit).  The helper keeps
    none in any version (tests/test_helper.py)."""
    python = other_cpython_or_skip("3.13")
    path = tmp_path / "monitor.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen(1)
        server.settimeout(30)
        code = (
            "import os, sys\n"
            "fds = [os.readlink('/proc/self/fd/' + f) for f in os.listdir('/proc/self/fd')\n"
            "       if os.path.exists('/proc/self/fd/' + f)]\n"
            "sys.audit('lone.mapped', fds)\n"
        )
        env = agent_env("python", AUDITMON_MODE="run", AUDITMON_SOCKET=str(path))
        command = without_compiled_parts(tmp_path, python, "-c", code)
        target = subprocess.Popen(command, env=env)
        try:
            stream = AgentStream(server.accept()[0])
            assert target.wait(timeout=30) == 0
            got = stream.read(5) + stream.from_ring()
        finally:
            if target.poll() is None:
                target.kill()
    events = [e for kind, body in got if kind == protocol.EVENTS for e in body]
    (listed,) = [e[4][0] for e in events if e[3] == "lone.mapped"]
    assert listed and not [link for link in listed if "auditmon-ring" in link], listed
