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
    return subprocess.Popen(
        [sys.executable, "-m", "auditmon", "run", "--headless", "--record", str(record)]
        + ["--", sys.executable, "-c", TICKS],
        env=clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def ticks(records) -> list[int]:
    return [r["args"][0] for r in records if r["type"] == "event" and r["event"] == "demo.tick"]


@pytest.mark.system
def test_two_watchers_get_the_whole_session_from_its_start(runtime_dir, tmp_path):
    session = start_session(tmp_path / "session.amrec", runtime_dir)
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
    recorded = list(read_recording(tmp_path / "session.amrec"))
    assert ticks(recorded) == list(range(300))
    for n in range(2):
        watched = read_jsonl(tmp_path / f"watch{n}.jsonl")
        assert ticks(watched) == list(range(300))
        assert [r["type"] for r in watched if r["type"] in ("process", "exit")] == [
            r["type"] for r in recorded if r["type"] in ("process", "exit")
        ]
    assert not (runtime_dir / f"session-{session.pid}.json").exists()


@pytest.mark.system
def test_a_json_lines_session_is_not_offered_and_auditmon_is_never_injected(runtime_dir, tmp_path):
    session = start_session(tmp_path / "session.jsonl", runtime_dir)
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
