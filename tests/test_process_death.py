"""Nothing lost when a process dies: the events a process raised before SIGKILL, SIGTERM,
a crash or ``os._exit`` are recorded (run mode's shared-memory ring), with how it ended.

Real processes under ``auditmon run --headless --record``, both agents, this venv's
interpreter and Debian's python3 (no msgpack).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict

import psutil
import pytest
from helpers import (
    agent_env,
    auditmon_command,
    read_jsonl,
    run_recorded,
    wait_for,
    without_compiled_parts,
)

from auditmon.record.reader import read_recording

pytestmark = pytest.mark.system

# Raises N death.tick events, then dies as told, at once.  In "fork" form a forked child
# does it while the parent waits for it (the child's end is no one's returncode).
DIES = """
import ctypes, os, signal, sys
n, how, where = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def die():
    for i in range(n):
        sys.audit("death.tick", i)
    if how == "SIGKILL":
        os.kill(os.getpid(), signal.SIGKILL)
    elif how == "SIGTERM":
        os.kill(os.getpid(), signal.SIGTERM)
    elif how == "SIGSEGV":
        ctypes.memset(0, 0, 1)  # a null write
    else:
        os._exit(7)

if where == "fork":
    pid = os.fork()
    if pid == 0:
        die()
    os.waitpid(pid, 0)
else:
    die()
"""

ENDINGS = {"SIGKILL": -9, "SIGTERM": -15, "SIGSEGV": -11, "_exit": 7}


def recorded(tmp_path, python, kind, *args, suffix=".jsonl", **env):
    """``python`` (or a command that runs it) runs DIES under ``kind``'s agent."""
    script = tmp_path / "dies.py"
    script.write_text(DIES)
    recording = tmp_path / f"rec{suffix}"
    command = (python,) if isinstance(python, str) else python
    result = run_recorded(
        recording, *command, str(script), *args, env=agent_env(kind, **env), timeout=300
    )
    records = list(read_recording(recording)) if suffix != ".jsonl" else read_jsonl(recording)
    return result, records


def per_pid(records):
    grouped = defaultdict(lambda: defaultdict(list))
    for record in records:
        if "pid" in record:
            grouped[record["pid"]][record["type"]].append(record)
    return grouped


def the_dying(records):
    """The records of the process that raised death.tick."""
    (pid,) = {r["pid"] for r in records if r["type"] == "event" and r["event"] == "death.tick"}
    return per_pid(records)[pid]


def ticks(mine):
    return [
        e["args"][0]
        for e in sorted(mine["event"], key=lambda e: e["seq"])
        if e["event"] == "death.tick"
    ]


@pytest.mark.parametrize("how", list(ENDINGS))
@pytest.mark.parametrize("n", [100, 10_000])
def test_every_event_before_a_death_is_recorded(tmp_path, agent_kind, how, n):
    result, records = recorded(tmp_path, sys.executable, agent_kind, str(n), how, "self")
    mine = the_dying(records)
    assert ticks(mine) == list(range(n)), result.stderr
    assert not mine["dropped"], mine["dropped"]
    (end,) = mine["exit"]
    assert end["exit_code"] == ENDINGS[how], end
    assert "may be missing" not in result.stderr


@pytest.mark.parametrize("how", list(ENDINGS))
def test_a_forked_child_that_dies_keeps_its_events(tmp_path, agent_kind, how):
    result, records = recorded(tmp_path, sys.executable, agent_kind, "10000", how, "fork")
    assert result.returncode == 0, result.stderr
    mine = the_dying(records)
    assert ticks(mine) == list(range(10_000))
    assert not mine["dropped"], mine["dropped"]
    (end,) = mine["exit"]
    if how in ("SIGKILL", "SIGTERM"):  # the os.kill event says who sent what
        assert end["exit_code"] == ENDINGS[how], end


@pytest.mark.parametrize("how", ["SIGKILL", "_exit"])
def test_a_million_events_before_a_death(tmp_path, agent_kind, how):
    """The ring made large enough to hold them all (AUDITMON_QUEUE): none dropped."""
    result, records = recorded(
        tmp_path,
        sys.executable,
        agent_kind,
        "1000000",
        how,
        "self",
        suffix=".amrec",
        AUDITMON_QUEUE="1500000",
    )
    mine = the_dying(records)
    assert ticks(mine) == list(range(1_000_000)), result.stderr[-2000:]
    assert not mine["dropped"]


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSEGV", "_exit"])
@pytest.mark.parametrize("where", ["self", "fork"])
def test_deaths_without_the_agents_compiled_parts(tmp_path, target_python, how, where):
    """Where nothing could be compiled at install (no C helper, no preload library), the
    pure-Python agent maps its ring with mmap and writes into it in Python: all the
    same, with and without msgpack."""
    command = without_compiled_parts(tmp_path, target_python)
    result, records = recorded(tmp_path, command, "python", "10000", how, where)
    mine = the_dying(records)
    assert ticks(mine) == list(range(10_000)), result.stderr
    assert not mine["dropped"], mine["dropped"]
    (process,) = mine["process"]
    assert process["agent"] == "python", process


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSEGV", "_exit"])
def test_deaths_under_an_interpreter_without_msgpack(tmp_path, no_msgpack_python, agent_kind, how):
    result, records = recorded(tmp_path, no_msgpack_python, agent_kind, "10000", how, "self")
    mine = the_dying(records)
    assert ticks(mine) == list(range(10_000)), result.stderr
    assert not mine["dropped"]
    assert mine["exit"][0]["exit_code"] == ENDINGS[how]


@contextlib.contextmanager
def recording_in_background(recording, options, command, env):
    """``auditmon run --headless --record RECORDING OPTIONS -- COMMAND`` started, for a
    test to act on while it runs; whatever happens, no monitor nor target is left
    running (a stopped monitor is continued first)."""
    monitor = subprocess.Popen(
        auditmon_command("run", "--headless", "--record", str(recording), *options, "--", *command),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield monitor
    finally:
        if monitor.poll() is None:  # a failure: leave nothing running
            monitor.send_signal(signal.SIGCONT)
            for child in psutil.Process(monitor.pid).children(recursive=True):
                child.kill()
            monitor.kill()


# Raises death.tick in bursts, flat out (a short sleep between bursts keeps the monitor
# abreast, so that no event is dropped for want of room), until killed from outside.
BUSY = """
import os, sys, time
open(sys.argv[1] + ".tmp", "w").close()
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
i = 0
while True:
    for _ in range(200):
        sys.audit("death.tick", i)
        i += 1
    time.sleep(0.0002)
"""


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_killed_from_outside_mid_stream(tmp_path, agent_kind, signum):
    """Killed at an arbitrary point: every event numbered is recorded, but for at most
    the one the death cut short, which is counted as dropped (never lost silently)."""
    script = tmp_path / "busy.py"
    script.write_text(BUSY)
    ready = tmp_path / "ready"
    recording = tmp_path / "rec.jsonl"
    command = (sys.executable, str(script), str(ready))
    with recording_in_background(recording, (), command, agent_env(agent_kind)) as monitor:
        wait_for(ready.exists, timeout=30)
        time.sleep(0.3)
        (target,) = [  # the command auditmon runs (not its JSON Lines writer)
            child
            for child in psutil.Process(monitor.pid).children()
            if str(script) in child.cmdline()
        ]
        os.kill(target.pid, signum)
        _, err = monitor.communicate(timeout=60)
    records = read_jsonl(recording)
    mine = the_dying(records)
    got = ticks(mine)
    assert len(got) > 1000
    assert got == list(range(len(got)))
    dropped = sum(r["count"] for r in mine["dropped"])
    assert dropped <= 1, mine["dropped"]
    assert mine["exit"][0]["exit_code"] == -signum
    assert "lost" not in err.lower() or " 0 lost" in err


LAPS = """
import sys, time
for burst in range(200):
    for i in range(500):
        sys.audit("death.tick", burst * 500 + i, "x" * (i % 40))
    time.sleep(0.002)
# The monitor drains the ring before the exit's events: the drops are all ticks.
time.sleep(0.5)
sys.audit("death.end")
"""


def test_a_small_ring_goes_round_many_times_and_stays_exact(tmp_path, agent_kind):
    """100 000 events through a ring of 128 KiB (about 30 laps), read as the agent
    writes: every event read is whole and in its place, and with the drops (where the
    monitor fell behind) they add up to all of them.  (The drops are counted per
    process: the script lets the ring drain before it exits, so that none of the
    exit's events is among them.)"""
    script = tmp_path / "laps.py"
    script.write_text(LAPS)
    recording = tmp_path / "rec.jsonl"
    env = agent_env(agent_kind, AUDITMON_QUEUE="1000")  # 128 000 bytes: a 128 KiB ring
    result = run_recorded(recording, sys.executable, str(script), env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    mine = the_dying(read_jsonl(recording))
    got = sorted((e["seq"], e["args"]) for e in mine["event"] if e["event"] == "death.tick")
    first_seq, (first, _) = got[0]
    assert all(seq - first_seq == n - first for seq, (n, _) in got)  # each in its place
    assert all(text == "x" * (n % 500 % 40) for _, (n, text) in got)  # and whole
    assert [e["seq"] for e in mine["event"] if e["event"] == "death.end"] == [
        first_seq - first + 100_000
    ]
    dropped = sum(r["count"] for r in mine["dropped"])
    assert len(got) + dropped == 100_000 and len(got) > 50_000, (len(got), dropped)


STOPPED = """
import os, sys, time
here = sys.argv[1]
open(here + "/ready", "w").close()
while not os.path.exists(here + "/go"):
    time.sleep(0.01)
for i in range(50_000):
    sys.audit("death.tick", i)
open(here + "/done", "w").close()
"""


def test_a_ring_full_while_the_monitor_is_stopped_drops_and_counts_exactly(tmp_path, agent_kind):
    """The monitor stopped (SIGSTOP) while the target raises 50 000 events into a 16 KiB
    ring and exits: what the ring held is recorded, the rest counted, and together they
    are every event; the target never waited."""
    script = tmp_path / "stopped.py"
    script.write_text(STOPPED)
    recording = tmp_path / "rec.jsonl"
    options = ("--events", "death.*")  # only these are numbered: others would count too
    command = (sys.executable, str(script), str(tmp_path))
    env = agent_env(agent_kind, AUDITMON_QUEUE="100")  # 12 800 bytes: a 16 KiB ring
    with recording_in_background(recording, options, command, env) as monitor:
        wait_for((tmp_path / "ready").exists, timeout=30)
        monitor.send_signal(signal.SIGSTOP)
        (tmp_path / "go").touch()
        wait_for((tmp_path / "done").exists, timeout=60)  # it never waited for the monitor
        monitor.send_signal(signal.SIGCONT)
        _, err = monitor.communicate(timeout=60)
    mine = the_dying(read_jsonl(recording))
    got = ticks(mine)
    dropped = sum(r["count"] for r in mine["dropped"])
    assert got == list(range(len(got)))  # the first ones, whole, in order
    assert 0 < len(got) < 1000 and len(got) + dropped == 50_000, (len(got), dropped)
    assert f"{dropped:,} dropped" in " ".join(err.split())
