"""Watching a running ``auditmon run`` session from another terminal: ``auditmon ls``
lists it, ``auditmon attach MONITOR_PID`` replays it from its start and follows it to
its end, any number of watchers at once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest
from helpers import ROOT, Tmux, auditmon, clean_env, read_jsonl, wait_for

from auditmon.record import read_recording

TICKS = """
import sys, time
for i in range(300):
    sys.audit("demo.tick", i)
    time.sleep(0.01)
"""


def start_session(record, runtime_dir) -> subprocess.Popen:
    recording = ["--record", str(record)] if record is not None else []
    return subprocess.Popen(
        [sys.executable, "-m", "auditmon", "run", "--headless", *recording]
        + ["--", sys.executable, "-c", TICKS],
        env=clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def ticks(records) -> list[int]:
    return [r["args"][0] for r in records if r["type"] == "event" and r["event"] == "demo.tick"]


@pytest.mark.system
@pytest.mark.parametrize("suffix", [".amrec", ".jsonl"])
def test_two_watchers_get_the_whole_session_from_its_start(suffix, runtime_dir, tmp_path):
    """Whichever encoding the session records in: a JSON Lines recording is followed
    line by line (a line written in part waits for its end)."""
    session = start_session(tmp_path / f"session{suffix}", runtime_dir)
    env = clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir))
    try:
        wait_for(
            lambda: (runtime_dir / f"session-{session.pid}.json").exists(),
            message="the session's advertisement",
        )
        listing = auditmon("ls", env=env)
        rows = listing.stdout.splitlines()
        (row,) = [line for line in rows if line.split()[:1] == [str(session.pid)]]
        assert "auditmon run --" in row and row.rstrip().endswith("a session: watch it")
        time.sleep(1.0)  # the watchers come when the session is under way
        watchers = [
            subprocess.Popen(
                [sys.executable, "-m", "auditmon", "attach", "--headless"]
                + ["--record", str(tmp_path / f"watch{n}.jsonl"), str(session.pid)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(2)
        ]
        for watcher in watchers:
            _, err = watcher.communicate(timeout=60)
            assert watcher.returncode == 0, err
            assert f"the session of monitor {session.pid} ended" in err
        assert session.wait(timeout=60) == 0
    finally:
        session.kill()
    recorded = list(read_recording(tmp_path / f"session{suffix}"))
    assert ticks(recorded) == list(range(300))
    for n in range(2):
        watched = read_jsonl(tmp_path / f"watch{n}.jsonl")
        assert ticks(watched) == list(range(300))
        assert [r["type"] for r in watched if r["type"] in ("process", "exit")] == [
            r["type"] for r in recorded if r["type"] in ("process", "exit")
        ]
    assert not (runtime_dir / f"session-{session.pid}.json").exists()


@pytest.mark.system
def test_a_session_without_a_recording_is_not_offered_and_auditmon_is_never_injected(
    runtime_dir, tmp_path
):
    session = start_session(None, runtime_dir)
    env = clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir))
    try:
        time.sleep(1.0)
        assert str(session.pid) not in auditmon("ls", env=env).stdout
        result = auditmon("attach", str(session.pid), env=env)
        assert result.returncode == 2
        assert "is auditmon itself, which is never monitored" in result.stderr
        assert session.wait(timeout=60) == 0
    finally:
        session.kill()


@pytest.mark.system
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not on PATH")
def test_a_live_session_in_a_terminal_can_be_watched_to_its_end(runtime_dir, tmp_path):
    """The live monitor (tmux) offers its spool: a watcher joining while the command runs
    gets every event from the start, and ends when the monitor quits."""
    script = tmp_path / "ticks.py"
    script.write_text(TICKS)
    tmux = Tmux()
    env = clean_env(TERM="xterm-256color", AUDITMON_RUNTIME_DIR=str(runtime_dir))
    command = f"cd {ROOT} && {sys.executable} -m auditmon run -- {sys.executable} {script}"
    subprocess.run(
        ["tmux", "-L", tmux.socket, "new-session", "-d", "-s", "e2e", "-x", "140", "-y", "40"]
        + [command],
        env=env,
        check=True,
        timeout=10,
    )
    try:
        adverts = wait_for(
            lambda: list(runtime_dir.glob("session-*.json")), message="the session's advert"
        )
        monitor_pid = int(adverts[0].stem.removeprefix("session-"))
        watcher = subprocess.Popen(
            [sys.executable, "-m", "auditmon", "attach", "--headless"]
            + ["--record", str(tmp_path / "watch.jsonl"), str(monitor_pid)],
            env=clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        tmux.wait_for("exited with status 0")
        tmux("send-keys", "-t", "e2e", "q")
        _, err = watcher.communicate(timeout=60)
        assert watcher.returncode == 0, err
        assert f"the session of monitor {monitor_pid} ended" in err
    finally:
        tmux("kill-server")
    assert ticks(read_jsonl(tmp_path / "watch.jsonl")) == list(range(300))


def test_a_json_lines_recording_is_followed_whole_line_by_whole_line(tmp_path):
    """A line written in part waits for its end; a line still cut once the session is
    over is said to be; a line that is not a record is said to be, with its number."""
    import json

    from auditmon.record.reader import EventBatch, RecordingError
    from auditmon.sources.sessions import WAITING, follow_records

    path = tmp_path / "session.jsonl"
    process = {"type": "process", "pid": 7, "argv": ["x"]}
    event = {"type": "event", "pid": 7, "seq": 1, "time": 1.5, "thread": 1, "event": "x"}
    second = json.dumps({**event, "args": [1, {"$float": "nan"}]}).encode()
    third = json.dumps({**event, "seq": 2, "args": ["b"]}).encode()
    path.write_bytes(json.dumps(process).encode() + b"\n" + second[:20])
    running = [True]
    items = follow_records(path, lambda: running[0])

    def until_waiting() -> list:
        got = []
        for item in items:
            if item is WAITING:
                return got
            got.append(item)
        return got

    assert until_waiting() == [process]
    with open(path, "ab") as file:
        file.write(second[20:] + b"\n" + third + b"\n" + b'{"type": "ev')
    (batch,) = until_waiting()
    assert type(batch) is EventBatch and batch.pid == 7
    assert [e[0] for e in batch.events] == [1, 2]
    assert [batch.arguments(e) for e in batch.events][1] == ["b"]
    assert str(batch.arguments(batch.events[0])[1]) == "nan"
    running[0] = False
    with pytest.raises(RecordingError, match="line 4 is cut short"):
        until_waiting()

    path.write_bytes(json.dumps(process).encode() + b"\nnot json\n")
    with pytest.raises(RecordingError, match="line 2 is not a record"):
        list(follow_records(path, lambda: False))
