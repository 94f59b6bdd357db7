"""Bad input never crashes the monitor: one bad connection closes, the others carry on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import msgpack
import pytest
from helpers import AGENT_DIR, NOBODY, clean_env, python_runnable_by_or_skip, wait_for

from auditmon import protocol
from auditmon.ingest import Ingest
from auditmon.model import Session

HELLO = [protocol.HELLO, {"v": protocol.VERSION, "pid": 4242, "argv": ["fake"]}]


@pytest.fixture
def monitor(tmp_path):
    problems: list[str] = []
    session = Session()
    ingest = Ingest(session, problems.append, max_message=1 << 20)
    path = tmp_path / "monitor.sock"
    ingest.listen(path)
    yield ingest, session, problems, path
    ingest.close()


def pump(ingest, until, message: str, problems: list[str], timeout: float = 30.0) -> None:
    """Let ``ingest`` read its sockets (it waits up to 20 ms a turn) until ``until()``."""
    wait_for(
        until,
        timeout,
        message,
        between=lambda: ingest.poll(0.02),
        state=lambda: f"{ingest.open_connections} open connection(s); problems: {problems}",
    )


def client(path, *chunks):
    """Send ``chunks`` on a new connection from a thread (the monitor reads meanwhile)."""

    def send():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(path))
            try:
                for chunk in chunks:
                    sock.sendall(chunk)
            except OSError:
                pass  # the monitor may hang up on a bad frame before all of it is sent

    threading.Thread(target=send, daemon=True).start()


@pytest.mark.system
def test_bad_connections_close_with_a_message_and_a_real_agent_carries_on(monitor):
    ingest, session, problems, path = monitor
    good = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfor i in range(500): sys.audit('good.tick', i)"],
        env=clean_env(PYTHONPATH=str(AGENT_DIR), AUDITMON_MODE="run", AUDITMON_SOCKET=str(path)),
    )
    pack = protocol.packb
    client(path, b"\xc1\xc1\xc1 garbage")
    client(path, pack(HELLO) + pack([protocol.EVENTS, [[1, 0.0, 1, "x", [], None]]])[:-3])
    client(path, pack([protocol.HELLO, {"v": 99, "pid": 1}]))
    client(path, pack([protocol.EVENTS, []]))
    client(path, pack(HELLO), msgpack.packb(b"x" * (2 << 20)))
    client(path, pack(HELLO) + pack([protocol.EVENTS, [["not", "an", "event"]]]))
    pump(
        ingest,
        lambda: good.poll() is not None and len(problems) >= 6 and ingest.open_connections == 0,
        "the agent to end and the six bad connections to be closed",
        problems,
    )
    text = "\n".join(problems)
    assert "undecodable data" in text
    assert "truncated frame" in text
    assert "unsupported protocol version 99" in text
    assert "first message was not a hello" in text
    assert "oversized frame" in text
    assert "malformed event batch" in text
    assert all(line.startswith("auditmon: connection from ") for line in problems)
    real = [p for p in session.ordered_processes() if p.process.pid == good.pid]
    assert len(real) == 1 and real[0].events["good.tick"] == 500
    assert real[0].process.status == "exited"


@pytest.mark.system
def test_connections_from_another_user_are_refused(shared_dir):
    if os.getuid() != 0:
        pytest.skip("needs root to run a client as another user")
    python = python_runnable_by_or_skip(NOBODY)
    problems: list[str] = []
    session = Session()
    ingest = Ingest(session, problems.append)
    try:
        path = str(shared_dir / "monitor.sock")  # outside pytest's private (0700) tree
        ingest.listen(path)
        os.chmod(path, 0o777)  # the other user reaches the socket: only SO_PEERCRED stops it
        code = (
            "import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
            "s.settimeout(5); print(s.recv(10) == b'')"
        )
        other = subprocess.Popen(
            [python, "-c", code, path],
            user=NOBODY,
            stdout=subprocess.PIPE,
            text=True,
            cwd="/",
        )
        pump(
            ingest,
            lambda: any(f"refused a connection from uid {NOBODY}" in p for p in problems),
            f"the connection from uid {NOBODY} to be refused",
            problems,
        )
        out, _ = other.communicate(timeout=10)
        assert out.strip() == "True"
        assert session.processes == {}
    finally:
        ingest.close()


def test_goodbye_accounting_reports_events_that_never_arrived(monitor):
    ingest, session, problems, path = monitor
    pack = protocol.packb
    events = [[seq, 0.0, 1, "e", [], None] for seq in (1, 2, 3)]
    client(
        path,
        pack(HELLO),
        pack([protocol.EVENTS, events]),
        pack([protocol.DROPPED, {"count": 2}]),
        pack([protocol.GOODBYE, {"time": 1.0, "exit_code": None, "last_seq": 10}]),
    )
    pump(
        ingest,
        lambda: session.processes and ingest.open_connections == 0,
        "the connection to say goodbye and close",
        problems,
    )
    (totals,) = session.processes.values()
    assert totals.process.received == 3 and totals.process.dropped == 2
    assert totals.process.lost == 5  # numbered 10, heard of 5
    assert session.total_dropped == 7
