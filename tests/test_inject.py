"""``auditmon attach`` on Python processes started without auditmon: gdb brings the agent
in at a safe point (agent/inject, auditmon/sources/inject.py), the target carries on as
it would have, and attaching again finds the agent there."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import (
    NOBODY,
    InjectableTarget,
    agent_door,
    auditmon,
    auditmon_command,
    auditmon_in,
    clean_env,
    other_cpython_or_skip,
    read_jsonl,
    system_python_or_skip,
    wait_for,
)

from auditmon.sources import inject
from auditmon.sources.attach import AttachError

pytestmark = pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")


def attach(pid: int, runtime_dir: Path, record: Path, *, duration: float = 0.5, **env: str):
    return auditmon(
        "attach",
        "--headless",
        "--duration",
        str(duration),
        "--record",
        str(record),
        str(pid),
        env=clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir), **env),
    )


def events(record: Path, name: str) -> list[dict]:
    return [r for r in read_jsonl(record) if r["type"] == "event" and r["event"] == name]


@pytest.fixture
def target(tmp_path):
    started: list[InjectableTarget] = []

    def start(mode: str, python: str = sys.executable) -> InjectableTarget:
        started.append(InjectableTarget(python, mode, tmp_path))
        return started[-1]

    yield start
    for one in started:
        one.kill()


@pytest.mark.system
@pytest.mark.parametrize("agent", ["native", "python"])
def test_a_busy_process_gets_the_agent_and_carries_on(agent, target, runtime_dir, tmp_path):
    busy = target("busy")
    first = attach(busy.pid, runtime_dir, tmp_path / "first.jsonl", AUDITMON_AGENT=agent)
    assert first.returncode == 0, first.stderr
    assert f"the agent is in process {busy.pid} ({agent} agent, by gdb)" in first.stderr
    records = read_jsonl(tmp_path / "first.jsonl")
    assert records[0]["type"] == "process" and records[0]["pid"] == busy.pid
    assert records[0]["agent"] == agent
    import psutil  # the process's own start, not the agent's arrival

    assert abs(records[0]["start"] - psutil.Process(busy.pid).create_time()) < 0.05
    ticks = [e["args"][0] for e in events(tmp_path / "first.jsonl", "demo.tick")]
    assert len(ticks) > 100 and ticks == list(range(ticks[0], ticks[0] + len(ticks)))
    # Nothing of the agent's own start shows among the target's events.
    assert {r["event"] for r in records if r["type"] == "event"} == {"demo.tick"}
    second = attach(busy.pid, runtime_dir, tmp_path / "second.jsonl")
    assert second.returncode == 0, second.stderr
    assert "the agent is in process" not in second.stderr  # found there, not brought again
    later = [e["args"][0] for e in events(tmp_path / "second.jsonl", "demo.tick")]
    assert later and later[0] > ticks[-1]
    code, out, err = busy.finish()
    assert (code, out, err) == (0, "done\n", "")


@pytest.mark.system
def test_ten_threads_keep_running_and_are_seen_by_name(target, runtime_dir, tmp_path):
    threads = target("threads")
    result = attach(threads.pid, runtime_dir, tmp_path / "threads.jsonl", duration=1.0)
    assert result.returncode == 0, result.stderr
    records = read_jsonl(tmp_path / "threads.jsonl")
    named = {r["name"] for r in records if r["type"] == "thread"}
    assert {f"worker-{n}" for n in range(10)} <= named
    assert {e["args"][0] for e in events(tmp_path / "threads.jsonl", "demo.thread")} == set(
        range(10)
    )
    assert threads.finish() == (0, "done\n", "")


@pytest.mark.system
def test_a_process_blocked_in_select_gets_the_agent(target, runtime_dir, tmp_path, monkeypatch):
    """select() returns as it would have (the call was restarted): a line said while no
    monitor watches is taken (the agent, paused, records it not), and one said while the
    second monitor watches is recorded."""
    from auditmon.sources.attach import status

    waiting = target("select")
    first = attach(waiting.pid, runtime_dir, tmp_path / "first.jsonl")
    assert first.returncode == 0, first.stderr
    waiting.say("unwatched")
    second = subprocess.Popen(
        auditmon_command(
            "attach", "--headless", "--duration", "3", "--record", str(tmp_path / "second.jsonl")
        )
        + [str(waiting.pid)],
        env=clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    monkeypatch.setenv("AUDITMON_RUNTIME_DIR", str(runtime_dir))
    wait_for(lambda: status(waiting.pid)["attached"], message="the second monitor attached")
    waiting.say("watched")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert [e["args"] for e in events(tmp_path / "second.jsonl", "demo.line")] == [["watched"]]
    assert waiting.finish("bye") == (0, "done\n", "")


@pytest.mark.system
@pytest.mark.parametrize("mode", ["sleep", "lock"])
def test_a_sleeping_or_locked_process_gets_the_agent(mode, target, runtime_dir, tmp_path):
    """Its only thread never reaches an allocator: the injection happens where the
    thread is blocked, and the call it is blocked in goes on."""
    idle = target(mode)
    result = attach(idle.pid, runtime_dir, tmp_path / "idle.jsonl")
    assert result.returncode == 0, result.stderr
    assert read_jsonl(tmp_path / "idle.jsonl")[0]["pid"] == idle.pid
    assert idle.process.poll() is None  # still blocked where it was
    code, out, err = idle.finish("signal")
    assert (code, out, err) == (-signal.SIGTERM, "", "")


@pytest.mark.system
@pytest.mark.parametrize("python", ["system python3", "3.8", "3.9", "3.10", "3.12", "3.13", "3.14"])
def test_other_interpreters_get_the_agent(python, target, runtime_dir, tmp_path):
    """Debian's python3 (statically linked, no msgpack: the pure-Python agent, as the
    extension is built for this venv's interpreter) and every other CPython here."""
    if python == "system python3":
        executable = system_python_or_skip()
    else:
        executable = other_cpython_or_skip(python)
    busy = target("busy", executable)
    result = attach(busy.pid, runtime_dir, tmp_path / "other.jsonl")
    assert result.returncode == 0, result.stderr
    assert len(events(tmp_path / "other.jsonl", "demo.tick")) > 100
    assert busy.finish() == (0, "done\n", "")


def test_refusals_are_one_line_with_status_2(runtime_dir, tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        result = attach(sleeper.pid, runtime_dir, tmp_path / "x.jsonl")
        assert result.returncode == 2
        assert f"process {sleeper.pid} is not a Python process (sleep)" in result.stderr
        assert result.stderr.count("\n") == 1
    finally:
        sleeper.kill()
        sleeper.wait()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    result = attach(dead.pid, runtime_dir, tmp_path / "x.jsonl")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"no process with PID {dead.pid}" in result.stderr


def test_another_users_python_is_refused_before_any_debugger(runtime_dir, tmp_path):
    if os.getuid() != 0:
        pytest.skip("needs root to start a process as another user")
    other = subprocess.Popen(["sleep", "30"], user=NOBODY)
    try:
        with pytest.raises(AttachError, match="belongs to another user"):
            inject.check_injectable(other.pid)
    finally:
        other.kill()
        other.wait()


@pytest.mark.parametrize(
    ("scope", "remedy"),
    [("1", "kernel.yama.ptrace_scope=0"), ("3", "until the next boot")],
)
def test_a_restricted_ptrace_scope_is_said_with_its_remedy(scope, remedy, tmp_path, monkeypatch):
    """This machine has no Yama: its setting is read from a file of the test's."""
    setting = tmp_path / "ptrace_scope"
    setting.write_text(scope + "\n")
    monkeypatch.setattr(inject, "_PTRACE_SCOPE", setting)
    monkeypatch.setattr(inject, "_has_cap_sys_ptrace", lambda: False)
    monkeypatch.setattr(inject.os, "geteuid", lambda: 1000)
    python = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(AttachError, match=remedy.replace(".", r"\.")):
            inject.check_injectable(python.pid)
    finally:
        python.kill()
        python.wait()


def test_without_gdb_the_remedy_is_to_install_it(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(AttachError, match="apt install gdb"):
        inject.check_injectable(os.getpid())


def test_no_inject_keeps_the_old_answer(runtime_dir, tmp_path):
    python = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        result = auditmon_in(runtime_dir, "attach", "--no-inject", str(python.pid))
        assert result.returncode == 2
        assert "has no auditmon agent" in result.stderr
    finally:
        python.kill()
        python.wait()


@pytest.mark.system
def test_ls_all_lists_python_processes_without_an_agent(target, runtime_dir):
    busy = target("busy")
    env = clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir))
    listing = auditmon("ls", "--all", env=env)
    assert listing.returncode == 0, listing.stderr
    (row,) = [line for line in listing.stdout.splitlines() if line.split()[0] == str(busy.pid)]
    assert "injectable.py" in row and row.rstrip().endswith("no agent yet")
    assert str(busy.pid) not in auditmon("ls", env=env).stdout
    busy.finish()


@pytest.mark.system
@pytest.mark.parametrize("agent", ["native", "python"])
def test_after_a_detach_an_injected_agent_pauses_until_the_next_attach(
    agent, target, runtime_dir, tmp_path, monkeypatch
):
    """The hook can't be removed, so once its last monitor has gone an injected agent
    pauses: it numbers nothing and keeps nothing (its status says so), and the next
    monitor sees from its own attach on, numbered on from where the pause began, with
    nothing counted as dropped."""
    from auditmon.sources.attach import status

    busy = target("busy")
    first = attach(busy.pid, runtime_dir, tmp_path / "first.jsonl", AUDITMON_AGENT=agent)
    assert first.returncode == 0, first.stderr
    monkeypatch.setenv("AUDITMON_RUNTIME_DIR", str(runtime_dir))
    wait_for(lambda: status(busy.pid)["paused"], timeout=10)
    paused = status(busy.pid)
    time.sleep(0.5)  # the target raises thousands of events meanwhile
    assert status(busy.pid)["events"] == paused["events"]
    assert paused["ring"] == 0 and not paused["attached"]
    listing = auditmon("ls", env=clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir), COLUMNS="200"))
    (row,) = [line for line in listing.stdout.splitlines() if str(busy.pid) in line.split()[:1]]
    assert "paused: recording from the next attach" in row
    second = attach(busy.pid, runtime_dir, tmp_path / "second.jsonl")
    assert second.returncode == 0, second.stderr
    before, after = (
        events(tmp_path / name, "demo.tick") for name in ("first.jsonl", "second.jsonl")
    )
    assert before and after
    ticks_between = after[0]["args"][0] - before[-1]["args"][0]
    seqs_between = after[0]["seq"] - before[-1]["seq"]
    # numbered between: only what came before the agent saw its monitor go, and after
    # the next one arrived (a poll interval each), not the half second paused
    assert 0 < seqs_between * 10 < ticks_between, (ticks_between, seqs_between)
    assert [e["seq"] for e in after] == list(range(after[0]["seq"], after[0]["seq"] + len(after)))
    assert [e["args"][0] for e in after] == list(
        range(after[0]["args"][0], after[0]["args"][0] + len(after))
    )
    records = read_jsonl(tmp_path / "second.jsonl")
    assert not [r for r in records if r["type"] == "dropped"]
    assert busy.finish() == (0, "done\n", "")


@pytest.mark.system
def test_200_attach_detach_cycles_leave_the_target_and_the_accounting_whole(
    target, runtime_dir, tmp_path, monkeypatch
):
    """On a busy multi-threaded target: 200 monitors attach (each is sent the hello and
    the ring) and go at once; then one records, and every thread's events follow on
    without a gap, nothing dropped."""
    from auditmon import protocol
    from auditmon.sources.attach import connect

    threads = target("threads")
    first = attach(threads.pid, runtime_dir, tmp_path / "first.jsonl", duration=0.2)
    assert first.returncode == 0, first.stderr
    monkeypatch.setenv("AUDITMON_RUNTIME_DIR", str(runtime_dir))
    for _ in range(200):
        # One monitor at a time: the one before may not be let go yet ("already
        # attached"), then this one asks again.
        while True:
            sock = connect(threads.pid, protocol.REQUEST_STREAM, timeout=10)
            kinds = _first_message(sock)
            sock.close()
            if kinds != protocol.ERROR:
                break

        assert kinds == protocol.HELLO
    last = attach(threads.pid, runtime_dir, tmp_path / "last.jsonl", duration=1.0)
    assert last.returncode == 0, last.stderr
    records = read_jsonl(tmp_path / "last.jsonl")
    assert not [r for r in records if r["type"] == "dropped"]
    by_thread: dict[int, list[int]] = {}
    for event in events(tmp_path / "last.jsonl", "demo.thread"):
        by_thread.setdefault(event["args"][0], []).append(event["args"][1])
    assert set(by_thread) == set(range(10))
    for counts in by_thread.values():
        assert counts == list(range(counts[0], counts[0] + len(counts)))
    assert threads.finish() == (0, "done\n", "")


def _first_message(sock) -> int:
    """The kind of the first message the agent sends."""
    from auditmon import protocol

    unpacker = protocol.make_unpacker()
    while True:
        data = sock.recv(65536)
        assert data, "the agent closed the connection without a word"
        unpacker.feed(data)
        for message in unpacker:
            return message[0]


@pytest.mark.system
def test_a_process_holding_the_gil_too_long_is_left_as_it_was(target, runtime_dir, tmp_path):
    """The library's thread gets the GIL only after the monitor gave up: it does nothing
    then, and the process goes on without an agent."""
    busy = target("gil")
    result = auditmon_in(runtime_dir, "attach", "--headless", "--patience", "0.5", str(busy.pid))
    assert result.returncode == 2
    assert "did not let the agent start within 0.5 s" in result.stderr
    assert result.stderr.count("\n") == 1
    assert busy.process.stdout.readline() == "computed\n"
    time.sleep(0.5)  # the thread had its turn with the GIL, and went
    assert agent_door(runtime_dir, busy.pid) is None
    again = auditmon_in(runtime_dir, "attach", "--no-inject", str(busy.pid))
    assert again.returncode == 2 and "has no auditmon agent" in again.stderr
    assert busy.finish() == (0, "done\n", "")


def test_a_process_in_another_namespace_is_refused_with_the_remedy(runtime_dir, tmp_path):
    """A container's process (here: unshare's new pid and mount namespaces): auditmon
    says to run it inside, rather than inject from outside."""
    import psutil

    if shutil.which("unshare") is None:
        pytest.skip("no unshare to make a namespace with")
    outer = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc"]
        + [sys.executable, "-c", "import time; time.sleep(30)"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: psutil.Process(outer.pid).children() or outer.poll() is not None,
            message="unshare's child",
        )
        if outer.poll() is not None:
            pytest.skip(f"unshare could not make a namespace here: {outer.stderr.read()}")
        (inner,) = psutil.Process(outer.pid).children()
        result = attach(inner.pid, runtime_dir, tmp_path / "x.jsonl")
        assert result.returncode == 2
        assert "runs in another pid namespace (a container?); run auditmon inside it" in (
            result.stderr
        )
        assert inner.is_running()
    finally:
        for child in psutil.Process(outer.pid).children() if outer.poll() is None else []:
            child.kill()
        outer.kill()
        outer.wait()


@pytest.mark.system
def test_a_stopped_process_is_refused_and_stays_stopped(target, runtime_dir, tmp_path):
    import psutil

    idle = target("sleep")
    idle.process.send_signal(signal.SIGSTOP)
    wait_for(
        lambda: psutil.Process(idle.pid).status() == psutil.STATUS_STOPPED,
        message="the process stopped",
    )
    result = attach(idle.pid, runtime_dir, tmp_path / "x.jsonl")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"is stopped (or under a debugger): resume it first (kill -CONT {idle.pid})" in (
        result.stderr
    )
    assert psutil.Process(idle.pid).status() == psutil.STATUS_STOPPED
    idle.process.send_signal(signal.SIGCONT)
    assert idle.finish("signal") == (-signal.SIGTERM, "", "")
