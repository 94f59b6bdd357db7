"""Finding and talking to attachable processes (started with ``auditmon env``), and
``auditmon attach``'s source."""

from __future__ import annotations

import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from auditmon import protocol
from auditmon.ingest.connection import Connection
from auditmon.ingest.loop import peer_uid
from auditmon.protocol import agent_constants as _agent
from auditmon.sources.calling import CallError, call
from auditmon.sources.environment import runtime_dir
from auditmon.sources.feed import Intake
from auditmon.text import shorten


class AttachError(Exception):
    """A one-line reason why a process can't be attached to."""


class NoAgent(AttachError):
    """The process runs no agent (it was started without auditmon)."""


def socket_path(pid: int) -> Path:
    """Where ``pid``'s agent listens (the agent's rendezvous.py lays the directory out)."""
    return runtime_dir() / f"{pid}{_agent.ATTACH_SOCKET}"


def lone_mark(pid: int) -> Path:
    """The mark of ``pid``'s lone agent, which keeps no listener: it is called."""
    return runtime_dir() / f"{pid}{_agent.ATTACH_LONE}"


def has_agent(pid: int) -> bool:
    """Whether ``pid`` has marked itself attachable, listening or lone."""
    return socket_path(pid).exists() or lone_mark(pid).is_symlink()


def own_process(pid: int) -> psutil.Process:
    """``pid``'s process, if it exists and is this user's; AttachError otherwise."""
    if pid <= 0 or not psutil.pid_exists(pid):
        raise AttachError(f"no process with PID {pid}")
    try:
        process = psutil.Process(pid)
        owner = process.uids().real
    except psutil.NoSuchProcess:
        raise AttachError(f"no process with PID {pid}") from None
    except psutil.AccessDenied:
        raise AttachError(f"process {pid} belongs to another user") from None
    if owner != os.getuid():
        raise AttachError(
            f"process {pid} belongs to another user (uid {owner}); "
            "auditmon attaches only to your own processes"
        )
    return process


def connect(pid: int, request: bytes, timeout: float = 2.0) -> socket.socket:
    """An open, verified connection to ``pid``'s agent with ``request`` sent."""
    sock = open_connection(pid, timeout)
    try:
        sock.sendall(request)
    except OSError as error:
        sock.close()
        raise _not_answering(pid, error.strerror or str(error)) from None
    return sock


HINT = 'start it in a shell prepared with: eval "$(auditmon env)"'


def _not_answering(pid: int, why: str) -> AttachError:
    return AttachError(f"the agent of process {pid} is not answering ({why}); {HINT}")


def open_connection(pid: int, timeout: float = 2.0) -> socket.socket:
    """A connection to ``pid``'s agent, nothing sent yet: to its listener, or, for a
    lone agent, the one it makes when called."""
    process = own_process(pid)
    try:
        name = " ".join(process.cmdline()) or process.name()
    except psutil.NoSuchProcess:
        raise AttachError(f"no process with PID {pid}") from None
    except psutil.AccessDenied:
        raise AttachError(f"process {pid} belongs to another user") from None
    path = socket_path(pid)
    if not path.exists():
        if lone_mark(pid).is_symlink():
            try:
                return call(pid, timeout)
            except CallError as error:
                raise _not_answering(pid, str(error)) from None
            except OSError as error:
                raise AttachError(f"cannot call process {pid}'s agent: {error}") from None
        raise NoAgent(f"process {pid} ({shorten(name, 60)}) has no auditmon agent; {HINT}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        if peer_uid(sock) != os.getuid():
            raise AttachError(f"the socket for process {pid} belongs to another user")
    except AttachError:
        sock.close()
        raise
    except OSError as error:
        sock.close()
        raise _not_answering(pid, error.strerror or str(error)) from None
    return sock


@dataclass(frozen=True)
class Attachable:
    """One row of ``auditmon ls``."""

    pid: int
    command: str
    started: float
    events: int | None
    attached: bool | None
    error: str | None = None
    agent: bool = True  # False: a Python process started without auditmon (ls --all)
    monitors: int | None = None  # how many are attached (agents before several: None)
    session: bool = False  # an ``auditmon run`` monitor whose session can be watched
    paused: bool = False  # an injected agent whose last monitor went: it records nothing


def status(pid: int, timeout: float = 2.0) -> dict[str, Any]:
    """The agent's status answer."""
    sock = connect(pid, protocol.REQUEST_STATUS, timeout)
    unpacker = protocol.make_unpacker(1 << 20)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                raise AttachError(f"the agent of process {pid} closed without answering")
            unpacker.feed(data)
            for value in unpacker:
                message = protocol.check_message(value, first=True)
                if message.kind == protocol.ERROR:
                    raise AttachError(f"the agent of process {pid} refused: {message.body}")
                if message.kind != protocol.STATUS:
                    raise AttachError(f"the agent of process {pid} sent no status")
                return message.body
    except (OSError, protocol.ProtocolError) as error:
        raise AttachError(f"the agent of process {pid} did not answer: {error}") from None
    finally:
        sock.close()


def attachable() -> list[Attachable]:
    """This user's attachable processes, by PID; the marks of those gone are removed.
    Asked at once: a lone agent answers only at its next look (sources/calling.py)."""
    directory = runtime_dir()
    if not directory.is_dir():
        return []
    doors = {  # one per process: a listener where an earlier image's mark lingers
        path.stem: path
        for suffix in (_agent.ATTACH_LONE, _agent.ATTACH_SOCKET)
        for path in directory.glob(f"*{suffix}")
    }
    with ThreadPoolExecutor(max_workers=16) as pool:
        rows = pool.map(_row, doors.values())
        return sorted((row for row in rows if row is not None), key=lambda row: row.pid)


def _row(path: Path) -> Attachable | None:
    """``auditmon ls``'s row for the agent found at ``path``, if it is one."""
    try:
        pid = int(path.stem)
    except ValueError:
        return None
    try:
        process = psutil.Process(pid)
        command = " ".join(process.cmdline()) or process.name()
        started = process.create_time()
    except psutil.NoSuchProcess:
        path.unlink(missing_ok=True)
        return None
    except psutil.AccessDenied:
        return None
    try:
        answer = status(pid)
    except AttachError as error:
        return Attachable(pid, command, started, None, None, str(error))
    monitors = answer.get("monitors")
    return Attachable(
        pid,
        command,
        started,
        answer.get("events"),
        answer.get("attached"),
        monitors=monitors if isinstance(monitors, int) else None,
        paused=answer.get("paused") is True,
    )


class AttachFeed:
    """``auditmon attach``'s source: one agent's stream, on an already connected socket."""

    mode = "attach"

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self.sock = sock
        self.connection: Connection | None = None
        self.state = f"attached to pid {pid}"
        self.finished = False

    def launch(self, intake: Intake) -> None:
        self.connection = intake.ingest.add(self.sock)

    @property
    def refusal(self) -> str | None:
        """What the agent said when it refused the connection, if it did."""
        return self.connection.refusal if self.connection is not None else None

    def clock(self) -> float:
        return time.time()

    def step(self, intake: Intake) -> None:
        intake.ingest.poll(0.05)
        connection = self.connection
        settled = not intake.ingest.settling
        if connection is not None and connection.closed and settled and not self.finished:
            process = connection.process
            how = "exited" if process.status == "exited" else "disconnected"
            self.state = f"process {self.pid} {how}; data kept"
            self.finished = True

    def exit_codes(self) -> dict[int, int]:
        return {}

    def close(self) -> None:
        """The socket is ingest's, closed with it."""
