"""Several monitors on one attachable process: each gets the hello, the ring and the
live stream; one that goes away or falls behind never holds up the others or the
target, and its own accounting stays exact (what it was not sent, it is told of)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest
from helpers import WORKLOADS, agent_door, attach_env, auditmon, clean_env, wait_for

from auditmon import protocol
from auditmon.record import read_recording
from auditmon.sources.attach import connect


def attachable(mode: str, tmp_path, runtime_dir):
    """An attachable process (started with the agent): injectable.py in ``mode``."""
    stop = tmp_path / "stop"
    process = subprocess.Popen(
        [sys.executable, str(WORKLOADS / "injectable.py"), mode, str(stop)],
        env=attach_env(runtime_dir),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "ready\n"
    wait_for(lambda: agent_door(runtime_dir, process.pid), message="the agent's socket")
    process.stop_file = stop
    return process


@pytest.fixture
def busy(tmp_path, runtime_dir):
    """Raising demo.tick flat out."""
    process = attachable("busy", tmp_path, runtime_dir)
    yield process
    process.stop_file.touch()
    process.wait(timeout=60)


@pytest.fixture
def threads(tmp_path, runtime_dir):
    """Ten threads raising demo.thread a few thousand times a second in all."""
    process = attachable("threads", tmp_path, runtime_dir)
    yield process
    process.stop_file.touch()
    process.wait(timeout=60)


def recorder(pid: int, runtime_dir, record, duration: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "auditmon", "attach", "--headless", "--duration", str(duration)]
        + ["--record", str(record), str(pid)],
        env=clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def tick_seqs(record) -> list[int]:
    return [r["seq"] for r in read_recording(record) if r["type"] == "event"]


def dropped(record) -> int:
    return sum(r["count"] for r in read_recording(record) if r["type"] == "dropped")


@pytest.mark.system
def test_a_monitor_killed_midway_leaves_the_other_whole(threads, runtime_dir, tmp_path):
    whole = recorder(threads.pid, runtime_dir, tmp_path / "whole.jsonl", 3.0)
    killed = recorder(threads.pid, runtime_dir, tmp_path / "killed.jsonl", 30.0)
    time.sleep(1.0)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert whole.wait(timeout=60) == 0, whole.stderr.read()
    seqs = tick_seqs(tmp_path / "whole.jsonl")
    assert len(seqs) > 1000 and dropped(tmp_path / "whole.jsonl") == 0
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert threads.poll() is None


@pytest.mark.system
def test_a_monitor_that_stops_reading_is_told_what_it_missed(busy, runtime_dir, tmp_path):
    """It is sent nothing more past its backlog, and told of those events as dropped:
    its events and drops add up to every seq from its first; the monitor next to it
    gets everything, with nothing dropped."""
    import os

    os.environ["AUDITMON_RUNTIME_DIR"] = str(runtime_dir)
    try:
        stuck = connect(busy.pid, protocol.REQUEST_STREAM, timeout=30)
    finally:
        del os.environ["AUDITMON_RUNTIME_DIR"]
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    whole = recorder(busy.pid, runtime_dir, tmp_path / "whole.amrec", 1.0)
    assert whole.wait(timeout=60) == 0, whole.stderr.read()
    seqs = tick_seqs(tmp_path / "whole.amrec")
    assert dropped(tmp_path / "whole.amrec") == 0
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    busy.stop_file.touch()  # the target ends: the stuck monitor reads it all, to the goodbye
    unpacker = protocol.make_unpacker()
    hello, events, drops, goodbye = None, [], 0, None
    stuck.settimeout(30)
    while data := stuck.recv(1 << 20):
        unpacker.feed(data)
        for kind, body in unpacker:
            if kind == protocol.HELLO:
                hello = body
            elif kind == protocol.EVENTS:
                events += [event[0] for event in body]
            elif kind == protocol.DROPPED:
                drops += body["count"]
            elif kind == protocol.GOODBYE:
                goodbye = body
    stuck.close()
    assert hello is not None and goodbye is not None
    assert drops > 0, "it never fell behind: the test proves nothing"
    first = hello["first_seq"]
    assert events == sorted(events) and events[0] == first
    assert len(events) + drops == goodbye["last_seq"] - first + 1 + hello["dropped"]


def test_ls_counts_the_monitors(threads, runtime_dir, tmp_path):
    first = recorder(threads.pid, runtime_dir, tmp_path / "a.amrec", 3.0)
    second = recorder(threads.pid, runtime_dir, tmp_path / "b.amrec", 3.0)
    env = clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir))
    try:
        wait_for(
            lambda: "2 monitors" in auditmon("ls", env=env).stdout,
            message="ls saying 2 monitors",
        )
    finally:
        first.wait(timeout=60)
        second.wait(timeout=60)
