"""Attach mode: start, list, attach, detach, re-attach, errors, and bad requests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import msgpack
import pytest
from helpers import (
    AGENT_DIR,
    NOBODY,
    WORKLOADS,
    agent_connection,
    agent_door,
    attach_env,
    auditmon_in,
    clean_env,
    constrained,
    copy_readable_by_all,
    events_of,
    python_runnable_by_or_skip,
    read_jsonl,
    wait_for,
)

from auditmon import protocol
from auditmon.ingest.loop import peer_credentials


def ticks(records):
    return [e["args"][0] for e in events_of(records) if e["event"] == "ticker.tick"]


@pytest.mark.system
def test_socket_is_private(ticker, runtime_dir):
    assert oct(os.stat(runtime_dir).st_mode & 0o777) == "0o700"
    if ticker.door.suffix == ".sock":
        assert oct(os.stat(ticker.door).st_mode & 0o777) == "0o600"
    else:
        assert ticker.door.is_symlink()  # a mark, not a way in: the monitor calls


@pytest.mark.system
def test_ls_attach_detach_reattach(ticker, runtime_dir, tmp_path):
    listing = auditmon_in(runtime_dir, "ls")
    assert listing.returncode == 0, listing.stderr
    (row,) = [line for line in listing.stdout.splitlines() if line.split()[0] == str(ticker.pid)]
    assert "ticker.py" in row and row.rstrip().endswith("no")

    first = tmp_path / "first.jsonl"
    result = auditmon_in(
        runtime_dir, "attach", "--duration", "0.5", "--record", str(first), str(ticker.pid)
    )
    assert result.returncode == 0, result.stderr
    records = read_jsonl(first)
    assert records[0]["type"] == "process" and records[0]["pid"] == ticker.pid
    first_ticks = ticks(records)
    # The ring replays history from the start: tick 0 onwards, without gaps.
    assert first_ticks[:3] == [0, 1, 2] and first_ticks == list(range(len(first_ticks)))
    assert records[-1]["type"] == "exit" and records[-1]["status"] == "detached"
    assert "still running (detached)" in result.stderr
    assert ticker.poll() is None, "detaching must not stop the process"

    # While one monitor is attached, ls says so and a second monitor joins it.
    held = tmp_path / "held.jsonl"
    holder = subprocess.Popen(
        [sys.executable, "-m", "auditmon", "attach", "--headless", "--duration", "4"]
        + ["--record", str(held), str(ticker.pid)],
        env=clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_attached(runtime_dir, ticker.pid)
        second_record = tmp_path / "second.jsonl"
        second = auditmon_in(
            runtime_dir,
            "attach",
            "--duration",
            "0.5",
            "--record",
            str(second_record),
            str(ticker.pid),
        )
        assert second.returncode == 0, second.stderr
        second_ticks = ticks(read_jsonl(second_record))
        assert second_ticks == list(range(second_ticks[0], second_ticks[-1] + 1))
        assert holder.wait(timeout=30) == 0  # its own --duration: all it was sent is written
    finally:
        holder.kill()
        holder.wait()
    held_ticks = ticks(read_jsonl(held))  # the first monitor saw all of them too
    assert set(second_ticks) <= set(held_ticks)
    assert held_ticks == list(range(held_ticks[0], held_ticks[-1] + 1))

    again = tmp_path / "again.jsonl"
    result = auditmon_in(
        runtime_dir, "attach", "--duration", "0.5", "--record", str(again), str(ticker.pid)
    )
    assert result.returncode == 0, result.stderr
    again_ticks = ticks(read_jsonl(again))
    assert again_ticks[-1] > first_ticks[-1]
    assert again_ticks == sorted(again_ticks)


def _row(listing, pid):
    rows = [line.rstrip() for line in listing.splitlines() if line.split()[:1] == [str(pid)]]
    return rows[0] if rows else ""


def wait_for_attached(runtime_dir, pid) -> None:
    """Until `auditmon ls` says that a monitor is attached to ``pid``."""
    listing = ""

    def attached() -> bool:
        nonlocal listing
        listing = auditmon_in(runtime_dir, "ls").stdout
        return _row(listing, pid).endswith("yes")

    wait_for(attached, message=f"`auditmon ls` to show {pid} attached", state=lambda: listing)


@pytest.mark.system
def test_attach_ends_when_the_process_exits(ticker, runtime_dir, tmp_path):
    record = tmp_path / "rec.jsonl"
    attached = subprocess.Popen(
        [sys.executable, "-m", "auditmon", "attach", "--record", str(record), str(ticker.pid)],
        env=clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_attached(runtime_dir, ticker.pid)
    ticker.stop_file.touch()
    out, err = attached.communicate(timeout=20)
    assert attached.returncode == 0, err
    assert f"process {ticker.pid} exited" in err
    records = read_jsonl(record)
    assert records[-1]["type"] == "exit" and records[-1]["status"] == "exited"
    seen = ticks(records)
    assert seen == list(range(len(seen)))  # nothing lost up to the end
    assert ticker.stdout.read() == "ticker done True\n"
    wait_for(lambda: not os.path.lexists(ticker.door), message="the agent to remove its socket")
    assert list(runtime_dir.iterdir()) == []  # nor left a call behind


def test_a_socket_is_found_only_once_it_listens(tmp_path):
    """Bound under another name and renamed after listen(): a monitor that sees
    ``<pid>.sock`` can connect at once (between bind and listen it would be refused)."""
    sys.path.insert(0, str(AGENT_DIR))
    try:
        from _auditmon_agent import rendezvous
    finally:
        sys.path.remove(str(AGENT_DIR))
    runtime = tmp_path / "rt"
    listener, _ = rendezvous.open_door(str(runtime), os.getpid(), lone=False)
    try:
        path = runtime / f"{os.getpid()}.sock"
        assert listener.getsockname() == str(path) + ".part"  # the name it was bound as
        assert [p.name for p in runtime.iterdir()] == [path.name]
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(path))
            os.close(listener._accept()[0])  # a raw _socket.socket, as the agent uses
    finally:
        listener.close()


@pytest.mark.system
def test_stale_sockets_are_cleaned_up(runtime_dir, tmp_path):
    runtime_dir.mkdir(mode=0o700)
    stale = runtime_dir / "4194305.sock"  # above Linux's largest pid: never alive
    stale.touch()
    (runtime_dir / "4194305.sock.part").touch()  # one left half made
    os.symlink("4194305", runtime_dir / "4194305.lone")  # a lone agent's mark
    os.symlink("4194305.1.x.back", runtime_dir / "4194305.call")  # a call to it
    (runtime_dir / f"{os.getpid()}.4194305.x.back").touch()  # a gone monitor's socket
    (runtime_dir / "4194305.x.remote").touch()  # a script left for a process now gone
    (runtime_dir / f"{os.getpid()}.x.remote").touch()  # one left for a live one: kept
    (runtime_dir / "notes.txt").touch()  # nobody's business of the agent's: kept
    stop = tmp_path / "stop"
    stop.touch()  # the ticker exits right away; its agent cleaned up on start
    subprocess.run(
        [sys.executable, str(WORKLOADS / "ticker.py"), str(stop)],
        env=attach_env(runtime_dir),
        check=True,
        capture_output=True,
        timeout=30,
    )
    assert not stale.exists()
    assert sorted(path.name for path in runtime_dir.iterdir()) == [
        f"{os.getpid()}.x.remote",
        "notes.txt",
    ]


@pytest.mark.system
def test_bad_pids_get_one_line_and_status_2(runtime_dir):
    for pid, expected in (
        ("999999999", "no process with PID 999999999"),
        (str(os.getpid()), "has no auditmon agent"),
    ):
        result = auditmon_in(runtime_dir, "attach", "--no-inject", pid)  # (test_inject.py: without)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.system
def test_another_users_process_is_refused(runtime_dir):
    if os.getuid() != 0:
        pytest.skip("needs root to start a process as another user")
    other = subprocess.Popen(["sleep", "30"], user=NOBODY)
    try:
        result = auditmon_in(runtime_dir, "attach", str(other.pid))
        assert result.returncode == 2
        assert "belongs to another user" in result.stderr
        assert result.stderr.count("\n") == 1
    finally:
        other.kill()
        other.wait()


@pytest.mark.system
@pytest.mark.parametrize("door", ["listening", "lone"])
def test_agent_refuses_another_users_connection(door, shared_dir):
    """SO_PEERCRED on the agent's side: a peer with another uid gets nothing at all,
    whether it connected to the agent's listener or called a lone agent (which the
    monitor's own check would refuse too: by hand here)."""
    if os.getuid() != 0:
        pytest.skip("needs root to run a target as another user")
    # The other user runs copies: the checkout (and our venv) may be readable by us alone.
    python = python_runnable_by_or_skip(NOBODY)
    ticker = copy_readable_by_all(WORKLOADS / "ticker.py", shared_dir)
    agent = copy_readable_by_all(AGENT_DIR, shared_dir)
    runtime = shared_dir / "rt"
    runtime.mkdir(mode=0o700)
    os.chown(runtime, NOBODY, NOBODY)
    stop = shared_dir / "stop"
    env = {**attach_env(runtime), "PYTHONPATH": str(agent)}
    command = [python, str(ticker), str(stop)]
    if door == "lone":
        command = constrained(command, as_root=False)
    else:
        del env["AUDITMON_LONE"]
    target = subprocess.Popen(
        command,
        user=NOBODY,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    try:
        assert target.stdout.readline() == "ticker ready\n"
        wait_for(lambda: agent_door(runtime, target.pid), message="the other user's agent")
        assert agent_door(runtime, target.pid).suffix == (".lone" if door == "lone" else ".sock")
        if door == "lone":
            sock = _called_by_hand(runtime, target.pid)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(5)
            sock.connect(str(agent_door(runtime, target.pid)))  # root may; the agent refuses
        with sock:
            try:
                sock.sendall(protocol.REQUEST_STATUS)
                answer = sock.recv(100)
            except (BrokenPipeError, ConnectionResetError):  # hung up on us: nothing either
                answer = b""
            assert answer == b""
        assert target.poll() is None
    finally:
        stop.touch()
        target.wait(timeout=15)


def _called_by_hand(runtime, pid: int) -> socket.socket:
    """A lone agent's connection to a call placed by hand, its socket open to anyone."""
    name = f"{pid}.{os.getpid()}.byhand.back"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(runtime / name))
        os.chmod(runtime / name, 0o666)
        listener.listen(1)
        listener.settimeout(10)
        os.symlink(name, runtime / f"{pid}.call")
        try:
            sock = listener.accept()[0]
        finally:
            (runtime / f"{pid}.call").unlink()
            (runtime / name).unlink()
    sock.settimeout(5)
    assert peer_credentials(sock) == (pid, NOBODY)
    return sock


@pytest.mark.system
def test_garbage_requests_do_not_disturb_the_agent(ticker, runtime_dir):
    with agent_connection(runtime_dir, ticker.pid) as sock:
        sock.sendall(b"\x00\xffnot a request\n")
        reply = sock.recv(1000)
    message = protocol.check_message(msgpack.unpackb(reply), first=True)
    assert message.kind == protocol.ERROR and "unknown request" in message.body
    result = auditmon_in(runtime_dir, "attach", "--duration", "0.3", str(ticker.pid))
    assert result.returncode == 0, result.stderr
    assert ticker.poll() is None
