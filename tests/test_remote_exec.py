"""``auditmon attach`` on a CPython 3.14+ process started without auditmon: the process's
own interpreter runs the agent's start (``sys.remote_exec``, auditmon/sources/
remote_exec.py), no debugger needed; a main thread that doesn't get to it at once is
left to gdb, or left as it was; a process that turned remote debugging off is refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    InjectableTarget,
    auditmon,
    clean_env,
    other_cpython_or_skip,
    read_jsonl,
    wait_for,
)

from auditmon.sources import remote_exec

pytestmark = pytest.mark.system


@pytest.fixture
def target(tmp_path):
    started: list[InjectableTarget] = []

    def start(mode: str, *options: str, **env: str) -> InjectableTarget:
        python = other_cpython_or_skip("3.14")
        started.append(InjectableTarget(python, mode, tmp_path, *options, **env))
        return started[-1]

    yield start
    for one in started:
        one.kill()


def attach(pid: int, runtime_dir: Path, record: Path, gdb: bool = True):
    """``auditmon attach --headless``; without ``gdb``, on a PATH where there is none."""
    env = clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir))
    if not gdb:
        env["PATH"] = str(record.parent / "no-gdb")
        os.makedirs(env["PATH"], exist_ok=True)
    return auditmon(
        "attach", "--headless", "--duration", "0.5", "--record", str(record), str(pid), env=env
    )


def left_for(runtime_dir: Path, pid: int) -> list[str]:
    """What the runtime directory holds for ``pid``: an agent's marks, scripts left."""
    if not runtime_dir.is_dir():
        return []
    return sorted(name for name in os.listdir(runtime_dir) if name.split(".")[0] == str(pid))


def test_a_busy_process_starts_the_agent_itself_with_no_debugger(target, runtime_dir, tmp_path):
    busy = target("busy")
    first = attach(busy.pid, runtime_dir, tmp_path / "first.jsonl", gdb=False)
    assert first.returncode == 0, first.stderr
    assert f"the agent is in process {busy.pid} (python agent, by sys.remote_exec)" in (
        first.stderr
    )
    records = read_jsonl(tmp_path / "first.jsonl")
    assert records[0]["type"] == "process" and records[0]["pid"] == busy.pid
    ticks = [r["args"][0] for r in records if r["type"] == "event" and r["event"] == "demo.tick"]
    assert len(ticks) > 100 and ticks == list(range(ticks[0], ticks[0] + len(ticks)))
    # the script removed itself; the agent is there, and a second monitor finds it
    assert not [n for n in left_for(runtime_dir, busy.pid) if n.endswith(".remote")]
    second = attach(busy.pid, runtime_dir, tmp_path / "second.jsonl", gdb=False)
    assert second.returncode == 0, second.stderr
    assert "the agent is in process" not in second.stderr  # nothing injected again
    assert [r for r in read_jsonl(tmp_path / "second.jsonl") if r["type"] == "event"]
    assert busy.finish() == (0, "done\n", "")


@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")
def test_a_blocked_main_thread_is_reached_by_gdb_and_the_script_then_does_nothing(
    target, runtime_dir, tmp_path
):
    blocked = target("select")
    result = attach(blocked.pid, runtime_dir, tmp_path / "blocked.jsonl")
    assert result.returncode == 0, result.stderr
    assert "(python agent, by gdb)" in result.stderr
    assert read_jsonl(tmp_path / "blocked.jsonl")[0]["pid"] == blocked.pid
    (script,) = [n for n in left_for(runtime_dir, blocked.pid) if n.endswith(".remote")]
    blocked.say("hello")  # its main thread runs Python again: the script runs, and ends
    wait_for(lambda: not (runtime_dir / script).exists(), timeout=10)
    assert blocked.finish("bye") == (0, "done\n", "")


def test_without_gdb_a_blocked_process_is_left_as_it_was(target, runtime_dir, tmp_path):
    blocked = target("select")
    result = attach(blocked.pid, runtime_dir, tmp_path / "blocked.jsonl", gdb=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"process {blocked.pid}'s main thread did not run Python within 1 s" in result.stderr
    assert "apt install gdb" in result.stderr
    (script,) = left_for(runtime_dir, blocked.pid)
    assert script.endswith(".remote")
    blocked.say("hello")  # the script runs now: it removes itself and starts nothing
    wait_for(lambda: not left_for(runtime_dir, blocked.pid), timeout=10)
    assert blocked.finish("bye") == (0, "done\n", "")
    assert not left_for(runtime_dir, blocked.pid)


@pytest.mark.parametrize(
    ("options", "env"),
    [((), {"PYTHON_DISABLE_REMOTE_DEBUG": "1"}), (("-X", "disable-remote-debug"), {})],
    ids=["environment", "option"],
)
def test_a_process_that_turned_remote_debugging_off_is_refused(
    options, env, target, runtime_dir, tmp_path
):
    busy = target("busy", *options, **env)
    result = attach(busy.pid, runtime_dir, tmp_path / "off.jsonl")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"process {busy.pid} turned remote debugging off" in result.stderr
    assert "start it without, or under `auditmon run`" in result.stderr
    assert not left_for(runtime_dir, busy.pid)
    assert busy.finish() == (0, "done\n", "")


def test_a_script_whose_claim_was_taken_back_removes_itself_and_does_nothing(tmp_path):
    """The script as a process would run it, after the monitor took its claim back."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    directory = tmp_path / "rt"
    pending = remote_exec.Pending(os.getpid(), directory, scratch / "claim")
    (scratch / "claim").write_bytes(b"")
    assert pending.take_back() and not pending.take_back()
    directory.mkdir()
    outcome = scratch / "outcome"
    pending.script.write_text(
        remote_exec.script_text(pending, tmp_path / "no-agent", {"AUDITMON_MODE": "x"}, outcome)
    )
    command = [sys.executable, "-I", str(pending.script)]
    ran = subprocess.run(command, capture_output=True, text=True)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "", "")
    assert not pending.script.exists() and not outcome.exists()


def test_a_caller_that_does_not_finish_leaves_a_script_that_does_nothing(
    target, runtime_dir, tmp_path
):
    """Whether a caller cut off by its timeout asked or not is unknown: its script stays
    where the process would look for it, without the claim that would let it act."""
    busy = target("busy")
    scratch = tmp_path / "scratch"
    scratch.mkdir(mode=0o700)
    said = remote_exec.hand_over(
        busy.pid, runtime_dir, scratch, {}, scratch / "outcome", tmp_path, timeout=0.001
    )
    assert type(said) is str and said.endswith("did not finish asking it")
    (script,) = left_for(runtime_dir, busy.pid)
    assert script.endswith(".remote") and not (scratch / "claim").exists()
    assert busy.finish() == (0, "done\n", "")
    assert not (scratch / "outcome").exists()
