"""A small, fixed session (fixed pids, times and values) for UI and model tests."""

from __future__ import annotations

from auditmon.model import Process, Session
from auditmon.protocol import Cut, Described

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
NOW = T0 + 40


def process(id_: int, pid: int, ppid: int, argv: list[str], start: float) -> Process:
    proc = Process(id=id_)
    proc.apply_hello(
        {
            "pid": pid,
            "ppid": ppid,
            "argv": argv,
            "executable": argv[0],
            "cwd": "/srv/app",
            "python": "cpython 3.11.7",
            "start": start,
            "agent": "python",
            "mode": "run",
        }
    )
    return proc


def build_session() -> Session:
    """Two processes, files, network, code and a custom event over 40 seconds."""
    session = Session(recent=50)
    app = process(1, 4100, 4000, ["/usr/bin/python3", "app.py", "--serve"], T0)
    child = process(2, 4101, 4100, ["/usr/bin/python3", "-c", "import json"], T0 + 20)
    session.process_started(app)
    session.process_started(child)
    seq = {1: 0, 2: 0}

    def emit(proc: Process, when: float, name: str, args: list, stack=None, thread=140001):
        seq[proc.id] += 1
        proc.received += 1
        session.events(proc, [[seq[proc.id], when, thread, name, args, stack]])

    emit(
        app, T0 + 0.1, "import", ["json", "/usr/lib/python3.11/json/__init__.py", None, None, None]
    )
    for second in range(40):
        when = T0 + second + 0.2
        for i in range(1 + second % 7):
            emit(
                app,
                when + i * 0.01,
                "open",
                ["/etc/hosts" if i % 2 else "/srv/app/config.toml", "r", 524288],
            )
        if second % 5 == 0:
            emit(app, when + 0.5, "open", [f"/srv/app/log/{second}.log", "w", 577])
        if second % 3 == 0:
            emit(
                app,
                when + 0.6,
                "socket.connect",
                [Described("socket AF_INET SOCK_STREAM fd=7"), ["10.0.0.8", 5432]],
            )
        if second % 10 == 0:
            emit(
                app,
                when + 0.7,
                "subprocess.Popen",
                ["/usr/bin/git", ["git", "status"], None, None],
                stack=[["/srv/app/app.py", 42, "refresh"], ["/srv/app/app.py", 88, "main"]],
            )
    emit(app, T0 + 30.5, "mylib.login", ["alice", Cut("x" * 64, 5000)], thread=140002)
    emit(app, T0 + 31.0, "pickle.find_class", ["builtins", "dict"])
    for i in range(12):
        emit(child, T0 + 21 + i * 0.1, "import", [f"json.mod{i}", None, None, None, None])
    emit(child, T0 + 22.5, "marshal.loads", [Cut(b"\xe3" * 32, 4096)])
    child.goodbye = {"time": T0 + 23, "exit_code": None, "last_seq": seq[2]}
    child.status = "exited"
    child.exit_code = 0
    child.end_time = T0 + 23
    session.process_ended(child)
    app.dropped = 3
    return session
