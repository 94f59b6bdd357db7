"""Finding and talking to attachable processes (started with ``auditmon env``)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from auditmon import protocol
from auditmon.ingest import peer_uid
from auditmon.launch import runtime_dir


class AttachError(Exception):
    """A one-line reason why a process can't be attached to."""


def socket_path(pid: int) -> Path:
    return runtime_dir() / f"{pid}.sock"


def connect(pid: int, request: bytes, timeout: float = 2.0) -> socket.socket:
    """An open, verified connection to ``pid``'s agent with ``request`` sent."""
    if pid <= 0 or not psutil.pid_exists(pid):
        raise AttachError(f"no process with PID {pid}")
    try:
        process = psutil.Process(pid)
        owner = process.uids().real
        name = " ".join(process.cmdline()) or process.name()
    except psutil.NoSuchProcess:
        raise AttachError(f"no process with PID {pid}") from None
    except psutil.AccessDenied:
        raise AttachError(f"process {pid} belongs to another user") from None
    if owner != os.getuid():
        raise AttachError(
            f"process {pid} belongs to another user (uid {owner}); "
            "auditmon attaches only to your own processes"
        )
    path = socket_path(pid)
    hint = 'start it in a shell prepared with: eval "$(auditmon env)"'
    if not path.exists():
        raise AttachError(f"process {pid} ({_short(name)}) has no auditmon agent; {hint}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        if peer_uid(sock) != os.getuid():
            raise AttachError(f"the socket for process {pid} belongs to another user")
        sock.sendall(request)
    except AttachError:
        sock.close()
        raise
    except OSError as error:
        sock.close()
        raise AttachError(
            f"the agent of process {pid} is not answering ({error.strerror or error}); {hint}"
        ) from None
    return sock


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Attachable:
    """One row of ``auditmon ls``."""

    pid: int
    command: str
    started: float
    events: int | None
    attached: bool | None
    error: str | None = None


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
    """This user's attachable processes, by PID; stale sockets are removed."""
    directory = runtime_dir()
    rows = []
    if not directory.is_dir():
        return rows
    for path in sorted(directory.glob("*.sock"), key=lambda p: p.name):
        try:
            pid = int(path.stem)
        except ValueError:
            continue
        try:
            process = psutil.Process(pid)
            command = " ".join(process.cmdline()) or process.name()
            started = process.create_time()
        except psutil.NoSuchProcess:
            path.unlink(missing_ok=True)
            continue
        except psutil.AccessDenied:
            continue
        try:
            answer = status(pid)
            rows.append(
                Attachable(pid, command, started, answer.get("events"), answer.get("attached"))
            )
        except AttachError as error:
            rows.append(Attachable(pid, command, started, None, None, str(error)))
    return sorted(rows, key=lambda row: row.pid)
