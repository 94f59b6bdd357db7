"""Calling a lone attach-mode agent: one that keeps no listener, as its listener would
sit among the target's own descriptors (the agent's rendezvous.py and constants.py).

The monitor listens at a name of its own in the runtime directory, points the symlink
``<pid>.call`` at it, and accepts the connection the agent's writer thread makes when
it next looks (at its tick; a paused agent's look is less frequent). Only a connection
from ``pid`` itself (SO_PEERCRED) is taken. One call at a time: a second monitor waits
for the first's call to be answered (or given up, or left by a monitor that is gone).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from pathlib import Path

import psutil

from auditmon.ingest.loop import peer_credentials
from auditmon.protocol import agent_constants as _agent
from auditmon.sources.environment import runtime_dir

# How often the wait for an answer looks whether the process still runs.
_LOOK = 0.1


class CallError(Exception):
    """Why a lone agent did not answer, in a few words."""


def call(pid: int, timeout: float = 2.0) -> socket.socket:
    """The connection ``pid``'s lone agent makes when called, within ``timeout``;
    CallError (or OSError, from the directory) where it does not come."""
    return call_in(runtime_dir(), pid, timeout)


def call_in(directory: Path, pid: int, timeout: float) -> socket.socket:
    """``call`` in the runtime directory ``directory``."""
    deadline = time.monotonic() + timeout
    name = f"{pid}.{os.getpid()}.{secrets.token_hex(4)}{_agent.ATTACH_BACK}"
    back = directory / name
    link = directory / f"{pid}{_agent.ATTACH_CALL}"
    _remove_gone_monitors(directory)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    placed = False
    try:
        listener.bind(str(back))
        os.chmod(back, 0o600)
        listener.listen(4)
        while not placed:
            placed = _place(link, name)
            if not placed:
                _wait(directory, pid, deadline, "another monitor is calling it")
        while True:
            listener.settimeout(max(0.001, min(_LOOK, deadline - time.monotonic())))
            try:
                conn = listener.accept()[0]
            except socket.timeout:
                _wait(directory, pid, deadline, "timed out", pause=False)
                continue
            if peer_credentials(conn) == (pid, os.getuid()):
                conn.settimeout(timeout)
                return conn
            conn.close()  # not the process called: nothing for it
    finally:
        if placed:
            _unlink_if(link, name)
        listener.close()
        back.unlink(missing_ok=True)


def _caller(name: str) -> int | None:
    """The monitor's PID in a call's socket name (``<pid>.<monitor>.<token>.back``)."""
    parts = name.split(".")
    if len(parts) == 4 and parts[3] == _agent.ATTACH_BACK[1:] and parts[1].isdigit():
        return int(parts[1])
    return None


def _remove_gone_monitors(directory: Path) -> None:
    """The sockets of calling monitors that are gone (killed mid-call)."""
    for path in directory.glob(f"*{_agent.ATTACH_BACK}"):
        caller = _caller(path.name)
        if caller is not None and not psutil.pid_exists(caller):
            path.unlink(missing_ok=True)


def _place(link: Path, name: str) -> bool:
    """Point ``link`` at ``name`` unless another live monitor's call is there."""
    try:
        os.symlink(name, link)
        return True
    except FileExistsError:
        pass
    try:
        other = os.readlink(link)
    except OSError:
        return False  # it just went: try again
    caller = _caller(other)
    if caller is None or not psutil.pid_exists(caller):
        _unlink_if(link, other)  # left by a monitor that is gone
    return False


def _wait(directory: Path, pid: int, deadline: float, why: str, pause: bool = True) -> None:
    """Raise CallError where ``pid`` ended, has no mark any more, or time ran out."""
    if not _running(pid):
        raise CallError("the process ended")
    if not (directory / f"{pid}{_agent.ATTACH_LONE}").is_symlink():
        raise CallError("its agent stopped")
    if time.monotonic() >= deadline:
        raise CallError(why)
    if pause:
        time.sleep(min(_LOOK / 5, max(0.0, deadline - time.monotonic())))


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has ended: nobody there will answer)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _unlink_if(link: Path, name: str) -> None:
    """Unlink ``link`` if it still names ``name`` (another monitor may have placed its
    own since: that one stays)."""
    try:
        if os.readlink(link) == name:
            link.unlink()
    except OSError:
        pass
