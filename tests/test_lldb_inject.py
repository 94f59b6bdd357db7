"""``auditmon attach`` where lldb is the only debugger (auditmon/sources/lldb_inject.py):
it brings the agent in at an allocator's entry, and a process whose threads all sleep is
left as it was, running, with the remedy said."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from helpers import InjectableTarget, auditmon, clean_env, read_jsonl

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("lldb") is None, reason="lldb is not installed"),
]


@pytest.fixture
def only_lldb(tmp_path) -> str:
    """A PATH on which lldb is the only debugger."""
    directory = tmp_path / "only-lldb"
    directory.mkdir()
    (directory / "lldb").symlink_to(shutil.which("lldb"))
    return str(directory)


@pytest.fixture
def target(tmp_path):
    started: list[InjectableTarget] = []

    def start(mode: str) -> InjectableTarget:
        started.append(InjectableTarget(sys.executable, mode, tmp_path))
        return started[-1]

    yield start
    for one in started:
        one.kill()


def attach(pid: int, runtime_dir: Path, record: Path, path: str, *options: str):
    env = clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir), PATH=path)
    return auditmon(
        "attach",
        "--headless",
        "--duration",
        "0.5",
        *options,
        "--record",
        str(record),
        str(pid),
        env=env,
    )


def state(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("State:"):
            return line.split()[1]
    raise AssertionError("no State line")


@pytest.mark.parametrize("mode", ["busy", "threads"])
def test_lldb_brings_the_agent_in(mode, only_lldb, target, runtime_dir, tmp_path):
    process = target(mode)
    result = attach(process.pid, runtime_dir, tmp_path / "rec.jsonl", only_lldb)
    assert result.returncode == 0, result.stderr
    assert f"the agent is in process {process.pid} (native agent, by lldb)" in result.stderr
    records = read_jsonl(tmp_path / "rec.jsonl")
    names = {r["event"] for r in records if r["type"] == "event"}
    assert names == {"demo.tick" if mode == "busy" else "demo.thread"}
    if mode == "busy":
        ticks = [r["args"][0] for r in records if r["type"] == "event"]
        assert len(ticks) > 100 and ticks == list(range(ticks[0], ticks[0] + len(ticks)))
    assert process.finish() == (0, "done\n", "")


def test_a_sleeping_process_is_left_running_with_the_remedy(
    only_lldb, target, runtime_dir, tmp_path
):
    process = target("sleep")
    result = attach(process.pid, runtime_dir, tmp_path / "rec.jsonl", only_lldb, "--patience", "2")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "no safe point came within 2 s (lldb waits for an allocator's entry" in result.stderr
    assert "apt install gdb" in result.stderr
    assert state(process.pid) == "S"  # asleep where it was, not stopped
    assert len(os.listdir(f"/proc/{process.pid}/task")) == 1  # no thread of ours
    assert process.finish("signal") == (-signal.SIGTERM, "", "")
