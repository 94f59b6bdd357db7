"""Calling a lone attach-mode agent (one that keeps no listener, its listener being in
the target's sight): only the process called is taken, monitors take turns, what a
gone monitor left is cleared, and the agent answers only calls to a monitor's socket
in its own directory.  Real processes and sockets; the lone agent's limit constrained
(``prlimit``) whatever this machine's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import (
    agent_connection,
    attach_env,
    auditmon_in,
    constrained,
    events_of,
    read_jsonl,
    system_python_or_skip,
    wait_for,
)

from auditmon import protocol
from auditmon.sources.attach import AttachError, status
from auditmon.sources.calling import CallError, call_in

pytestmark = pytest.mark.system

lone = pytest.mark.parametrize("ticker", ["lone"], indirect=True)


@pytest.fixture
def markless(runtime_dir):
    """A live process without an agent, marked lone by hand: nobody will answer."""
    runtime_dir.mkdir(mode=0o700)
    process = subprocess.Popen(["sleep", "30"])
    os.symlink(str(process.pid), runtime_dir / f"{process.pid}.lone")
    yield process
    process.kill()
    process.wait()


def test_only_the_process_called_is_taken(markless, runtime_dir):
    """Another process that connects to the monitor's socket (here: this one) is hung up
    on, and the call times out with its reason."""
    call = runtime_dir / f"{markless.pid}.call"
    rogue: list[bytes] = []

    def connect_first() -> None:
        wait_for(call.is_symlink, message="the monitor's call")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(runtime_dir / os.readlink(call)))
            rogue.append(sock.recv(100))

    thread = threading.Thread(target=connect_first)
    thread.start()
    with pytest.raises(CallError, match="timed out"):
        call_in(runtime_dir, markless.pid, 1.0)
    thread.join(timeout=10)
    assert rogue == [b""]  # closed without a word
    assert sorted(p.name for p in runtime_dir.iterdir()) == [f"{markless.pid}.lone"]


def test_a_call_to_a_process_that_ends_says_so(markless, runtime_dir):
    threading.Timer(0.3, markless.kill).start()
    started = time.monotonic()
    with pytest.raises(CallError, match="the process ended"):
        call_in(runtime_dir, markless.pid, 20.0)
    assert time.monotonic() - started < 10


def test_a_call_left_by_a_gone_monitor_is_cleared(markless, runtime_dir):
    """A call whose monitor is gone (its PID, above Linux's largest, never alive) is
    replaced; one of a live monitor is waited for."""
    call = runtime_dir / f"{markless.pid}.call"
    os.symlink(f"{markless.pid}.4194305.x.back", call)
    (runtime_dir / f"{markless.pid}.4194305.x.back").touch()  # its socket, left too
    with pytest.raises(CallError, match="timed out"):
        call_in(runtime_dir, markless.pid, 0.5)  # placed its own: nobody answered
    assert not call.is_symlink()
    assert sorted(p.name for p in runtime_dir.iterdir()) == [f"{markless.pid}.lone"]
    os.symlink(f"{markless.pid}.{os.getpid()}.x.back", call)  # a live monitor's (ours)
    with pytest.raises(CallError, match="another monitor is calling it"):
        call_in(runtime_dir, markless.pid, 0.5)
    assert os.readlink(call) == f"{markless.pid}.{os.getpid()}.x.back"  # left to it


@lone
def test_monitors_calling_at_once_take_turns(ticker, runtime_dir, monkeypatch):
    monkeypatch.setenv("AUDITMON_RUNTIME_DIR", str(runtime_dir))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: status(ticker.pid, timeout=10), range(8)))
    assert {answer["pid"] for answer in answers} == {ticker.pid}
    assert sorted(p.name for p in runtime_dir.iterdir()) == [f"{ticker.pid}.lone"]


@lone
def test_the_agent_answers_only_a_monitors_socket_in_its_directory(ticker, runtime_dir, tmp_path):
    """A call naming a path elsewhere (or anything but a monitor's socket) is not
    answered: the agent connects to nothing it was pointed at outside the directory."""
    elsewhere = tmp_path / f"{ticker.pid}.1.x.back"
    call = runtime_dir / f"{ticker.pid}.call"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(elsewhere))
        listener.listen(1)
        listener.settimeout(0.5)
        for target in (str(elsewhere), f"../{elsewhere.name}", "nothing.sock"):
            os.symlink(target, call)
            try:
                with pytest.raises(socket.timeout):
                    listener.accept()
            finally:
                call.unlink()
    with agent_connection(runtime_dir, ticker.pid) as sock:  # a proper call still is
        sock.sendall(protocol.REQUEST_STATUS)
        assert sock.recv(100)


def test_a_process_without_any_mark_has_no_agent(runtime_dir, monkeypatch):
    runtime_dir.mkdir(mode=0o700)
    monkeypatch.setenv("AUDITMON_RUNTIME_DIR", str(runtime_dir))
    with pytest.raises(AttachError, match="has no auditmon agent"):
        status(os.getpid())


# Lists its own descriptors once its agent is up, ticks, then execs Python again (a new
# image marks itself anew) or not, as told.
LISTER = """
import os, stat, sys, time
runtime = os.environ["AUDITMON_RUNTIME_DIR"]
mark = os.path.join(runtime, "%d.lone" % os.getpid())
while not os.path.lexists(mark):
    time.sleep(0.01)
seen = []
for fd in range(os.sysconf("SC_OPEN_MAX")):
    try:
        os.fstat(fd)
    except OSError:
        continue
    seen.append(fd)
print(",".join(map(str, seen)), flush=True)
stop = sys.argv[1]
i = 0
while not os.path.exists(stop):
    sys.audit("lister.tick", i)
    i += 1
    time.sleep(0.01)
if sys.argv[2] == "exec":
    os.execv(sys.executable, [sys.executable, "-c", LATER, stop + ".2", "end"])
"""


@pytest.mark.parametrize(
    "python, agent",
    [("venv", "native"), ("venv", "python"), ("debian", "native"), ("debian", "python")],
)
def test_a_lone_agent_is_attached_to_in_every_interpreter(python, agent, runtime_dir, tmp_path):
    """Native and pure-Python agents, under this venv's interpreter and one without
    msgpack: no descriptor of the agent's in the target's own list, events recorded
    when called, and after an exec the new image is called in its turn."""
    executable = sys.executable if python == "venv" else system_python_or_skip()
    env = {**attach_env(runtime_dir), "AUDITMON_AGENT": agent}
    stop = tmp_path / "stop"
    code = f"LATER = {LISTER!r}\n{LISTER}"
    target = subprocess.Popen(
        constrained([executable, "-c", code, str(stop), "exec"]),
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        listed = target.stdout.readline().strip()
        assert listed == "0,1,2", listed  # stdin, stdout, stderr: nothing of the agent's
        first = tmp_path / "first.jsonl"
        result = auditmon_in(
            runtime_dir, "attach", "--duration", "0.5", "--record", str(first), str(target.pid)
        )
        assert result.returncode == 0, result.stderr
        records = read_jsonl(first)
        assert records[0]["agent"] == agent
        ticks = [e["args"][0] for e in events_of(records) if e["event"] == "lister.tick"]
        assert ticks[:2] == [0, 1] and ticks == list(range(len(ticks)))
        stop.touch()  # it execs: the new image lists again, and is called in its turn
        assert target.stdout.readline().strip() == "0,1,2"
        second = tmp_path / "second.jsonl"
        result = auditmon_in(
            runtime_dir, "attach", "--duration", "0.3", "--record", str(second), str(target.pid)
        )
        assert result.returncode == 0, result.stderr
        assert any(e["event"] == "lister.tick" for e in events_of(read_jsonl(second)))
    finally:
        (tmp_path / "stop.2").touch()
        stop.touch()
        target.wait(timeout=15)
    assert list(runtime_dir.iterdir()) == []


def test_ls_asks_every_lone_agent(runtime_dir, tmp_path):
    """Several lone agents, each answering only when it next looks: every one listed
    with its events (they are asked at once)."""
    stop = tmp_path / "stop"
    env = attach_env(runtime_dir)
    command = [
        sys.executable,
        "-c",
        "import sys\nfrom pathlib import Path\n"
        "print('ready', flush=True)\n"
        "while not Path(sys.argv[1]).exists():\n    sys.audit('ls.tick')\n"
        "    __import__('time').sleep(0.01)\n",
        str(stop),
    ]
    targets = [
        subprocess.Popen(constrained(command), env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    try:
        for target in targets:
            assert target.stdout.readline() == "ready\n"
            wait_for(lambda t=target: (runtime_dir / f"{t.pid}.lone").is_symlink())
        listing = auditmon_in(runtime_dir, "ls")
        assert listing.returncode == 0, listing.stderr
        rows = {line.split()[0]: line for line in listing.stdout.splitlines()[1:] if line.strip()}
        for target in targets:
            row = rows[str(target.pid)]
            assert int(row.split()[-2]) > 0 and row.rstrip().endswith("no"), row
    finally:
        stop.touch()
        for target in targets:
            target.wait(timeout=15)
