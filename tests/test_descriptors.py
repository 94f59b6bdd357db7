"""The agent's file descriptors are not the target's business: they sit at or above the
soft RLIMIT_NOFILE (where open() never puts one and a scan bounded by the limit never
looks; where the limit may not be raised, high under it, but run mode then keeps no
socket: tests/test_lone_agent.py), close-on-exec, so a target
gets the descriptor numbers it gets without auditmon and sees none of the agent's in a
scan of its own, its children inherit none of them, and a number the target takes over
(dup2 onto it) is never written to nor closed by the agent."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    AGENT_DIR,
    agent_env,
    attach_env,
    read_jsonl,
    run_recorded,
    without_compiled_parts,
)

sys.path.insert(0, str(AGENT_DIR))
from _auditmon_agent.constants import FD_FLOOR, FD_HIGHEST, FD_ROOM  # noqa: E402

sys.path.remove(str(AGENT_DIR))

pytestmark = pytest.mark.system

# What a target sees of its own descriptors, once the agent is up (attach mode's
# listener, or lone mark, comes from the writer thread: it waits for either to exist).
LOOK = """
import fcntl, json, os, subprocess, sys, time
doors = [os.path.join(os.environ.get("AUDITMON_RUNTIME_DIR", ""), "%d.%s" % (os.getpid(), kind))
         for kind in ("sock", "lone")]
while os.environ.get("AUDITMON_MODE") == "attach" and not any(map(os.path.lexists, doors)):
    time.sleep(0.01)
listing = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
fds = sorted(int(fd) for fd in os.listdir(listing) if int(fd) != listing)
os.close(listing)
first = os.open(os.devnull, os.O_RDONLY)
child = subprocess.run(["/bin/ls", "/proc/self/fd"], close_fds=False, capture_output=True,
                       text=True).stdout.split()
print(json.dumps({
    "first": first,
    "high": {fd: bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
             for fd in fds if fd >= %(floor)d},
    "child": sorted(int(fd) for fd in child),
}))
""".replace("%(floor)d", str(FD_FLOOR))


def may_raise_the_hard_limit() -> bool:
    """CAP_SYS_RESOURCE (bit 24 of the effective capabilities): root in a container may
    lack it."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> 24 & 1)
    return False


def lowest_for_the_agent(soft: int, hard: int) -> int:
    """Where the agent's descriptors go under these limits: at or above the soft one
    where it may be raised for a moment, else at FD_FLOOR under it."""
    room = hard == resource.RLIM_INFINITY or hard >= max(soft, FD_FLOOR) + FD_ROOM
    if 0 <= soft <= FD_HIGHEST and (room or may_raise_the_hard_limit()):
        return max(soft, FD_FLOOR)
    return FD_FLOOR


def look(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


SOFT_LIMITS = {
    "as it is": None,
    # the common default for a login, under the hard limit: room above it
    "1024": 1024,
}


def limits(soft: int | None) -> tuple[int, int, dict]:
    """The limits a target gets, and what lowers its soft limit to ``soft``."""
    current, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft is None or not (hard == resource.RLIM_INFINITY or soft < hard):
        return current, hard, {}
    lower = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))  # noqa: E731
    return soft, hard, {"preexec_fn": lower}


@pytest.fixture(scope="module")
def without_agent() -> dict:
    return look(
        subprocess.run(
            [sys.executable, "-c", LOOK],
            capture_output=True,
            text=True,
            env=agent_env("native"),
            timeout=60,
        )
    )


def looked(
    where: Path, mode: str, kind: str, script: str, lowered: dict, compiled: bool = True
) -> subprocess.CompletedProcess:
    """``script`` run under the ``kind`` agent in ``mode`` (run: under ``auditmon run``;
    attach: an attachable process, no monitor), or under a copy of the pure-Python agent
    without its compiled parts (``compiled=False``)."""
    if mode == "run":
        record = where / "run.jsonl"
        command = (sys.executable, "-c", script)
        if not compiled:
            command = without_compiled_parts(where, *command)
        result = run_recorded(record, *command, env=agent_env(kind), **lowered)
        agents = [r["agent"] for r in read_jsonl(record) if r["type"] == "process"]
        assert agents == [kind], agents
        return result
    env = attach_env(where / "runtime")
    env["AUDITMON_AGENT"] = kind
    if not compiled:
        prefix = without_compiled_parts(where)
        del env["LD_PRELOAD"]
        env["PYTHONPATH"] = prefix[-1].removeprefix("PYTHONPATH=")
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        **lowered,
    )


@pytest.mark.parametrize("kind", ["native", "python"])
@pytest.mark.parametrize("mode", ["run", "attach"])
@pytest.mark.parametrize("soft", SOFT_LIMITS.values(), ids=SOFT_LIMITS.keys())
def test_the_target_gets_its_own_numbers_and_its_children_none_of_the_agents(
    tmp_path, without_agent, kind, mode, soft
):
    soft, hard, lowered = limits(soft)
    result = looked(tmp_path, mode, kind, LOOK, lowered)
    seen = look(result)
    assert seen["first"] == without_agent["first"]
    assert without_agent["high"] == {}
    if lowest_for_the_agent(soft, hard) < soft:
        # no number out of the target's sight: the agent keeps no socket (lone; in
        # attach mode, until a monitor calls)
        assert seen["high"] == {} and seen["child"] == without_agent["child"], seen
        return
    # run mode's socket; attach mode's listener (no monitor attached: no client)
    assert len(seen["high"]) == 1 and all(seen["high"].values()), seen
    assert int(next(iter(seen["high"]))) >= lowest_for_the_agent(soft, hard)
    assert not set(map(int, seen["high"])) & set(seen["child"])


TAKE_OVER = """
import os, sys, tempfile
agent_fd = max(int(fd) for fd in os.listdir("/proc/self/fd"))
assert agent_fd >= %(floor)d, agent_fd
mine = tempfile.TemporaryFile()
os.dup2(mine.fileno(), agent_fd)
for i in range(2000):
    sys.audit("takeover.after", i)
os.write(agent_fd, b"mine")
mine.seek(0)
print(mine.read().decode())
""".replace("%(floor)d", str(FD_FLOOR))


@pytest.mark.parametrize("kind", ["native", "python"])
def test_a_descriptor_the_target_takes_over_is_never_written_by_the_agent(tmp_path, kind):
    """Attach mode's listener where it sits under the limit (no room above it) and the
    agent was not told it may go lone (an environment from before AUDITMON_LONE): the
    target can take its number over.  (Lone agents keep no socket there but a called
    monitor's; a number at or above the soft limit is not the target's to take: dup2
    refuses it.)"""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if lowest_for_the_agent(soft, hard) >= soft:
        pytest.skip("the agent's listener goes above the soft limit here: none to take")
    env = attach_env(tmp_path / "runtime")
    env["AUDITMON_AGENT"] = kind
    del env["AUDITMON_LONE"]
    wait = (
        "import os, time\n"
        "path = os.path.join(os.environ['AUDITMON_RUNTIME_DIR'], '%d.sock' % os.getpid())\n"
        "while not os.path.exists(path):\n"
        "    time.sleep(0.01)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", wait + TAKE_OVER],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "mine\n"


# LOOK, and whether the target has ``resource`` once the agent is up (LOOK imports it not).
LOOK_AND_RESOURCE = LOOK.replace(
    "listing = os.open(", "limits_module = 'resource' in sys.modules\nlisting = os.open("
).replace('"first": first,', '"first": first, "resource": limits_module,')


@pytest.mark.parametrize("mode", ["run", "attach"])
@pytest.mark.parametrize("soft", SOFT_LIMITS.values(), ids=SOFT_LIMITS.keys())
def test_the_c_helper_places_the_python_agents_socket_as_python_would(
    tmp_path, without_agent, mode, soft
):
    """The pure-Python agent has its C helper move its socket, where Python would load
    ``resource`` and ``fcntl`` (modules of their own to load at every start where they
    are not built in): the socket lands on the very number the agent's own fallback
    gives it.  Under a copy of the agent without its compiled parts the fallback moves
    it, with a ``resource`` of its own: neither way is there one in the target's
    ``sys.modules``."""
    soft, hard, lowered = limits(soft)
    seen = {}
    for compiled in (True, False):
        where = tmp_path / f"compiled-{compiled}"
        where.mkdir()
        seen[compiled] = look(looked(where, mode, "python", LOOK_AND_RESOURCE, lowered, compiled))
    with_helper, without_helper = seen[True], seen[False]
    assert not with_helper["resource"], with_helper
    assert not without_helper["resource"], without_helper
    assert with_helper["high"] == without_helper["high"]
    assert with_helper["first"] == without_helper["first"] == without_agent["first"]
    if lowest_for_the_agent(soft, hard) >= soft:
        assert len(with_helper["high"]) == 1 and all(with_helper["high"].values())
        assert int(next(iter(with_helper["high"]))) >= lowest_for_the_agent(soft, hard)
