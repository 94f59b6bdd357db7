"""Plain helpers shared by the tests: run auditmon and workloads as real processes, read
recordings, and wait for what another thread or process does.

Fixtures live in ``conftest.py``; everything here is an ordinary function or constant, so
a test imports it by name (``from helpers import auditmon``).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ROOT / "tests" / "workloads"
AGENT_DIR = ROOT / "agent"
NOBODY = 65534
"""The uid of tests that need another user ("nobody")."""

#: Debian's own interpreter, outside any venv: it has no msgpack and no auditmon.
SYSTEM_PYTHON = "/usr/bin/python3"

T = TypeVar("T")


# -- processes and recordings ------------------------------------------------------------


def has_system_python() -> bool:
    """Whether SYSTEM_PYTHON is there to run targets under."""
    return os.access(SYSTEM_PYTHON, os.X_OK)


def clean_env(**extra: str) -> dict[str, str]:
    """Our environment without any agent settings a developer's shell may carry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITMON_")}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def agent_env(kind: str, **extra: str) -> dict[str, str]:
    """``clean_env`` choosing the agent implementation (AUDITMON_AGENT)."""
    return clean_env(AUDITMON_AGENT=kind, **extra)


def auditmon(*args: str, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess:
    """Run the auditmon CLI as a real process and capture its output."""
    kwargs.setdefault("env", clean_env())
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run([sys.executable, "-m", "auditmon", *args], timeout=timeout, **kwargs)


def run_recorded(
    record: Path, *command: str, options: tuple[str, ...] = (), **kwargs: Any
) -> subprocess.CompletedProcess:
    """``auditmon run --headless --record RECORD [OPTIONS] -- COMMAND``."""
    return auditmon(
        "run", "--headless", "--record", str(record), *options, "--", *command, **kwargs
    )


def attach_env(runtime_dir: Path | str) -> dict[str, str]:
    """The environment `auditmon env --format json` gives, in a private runtime dir."""
    result = auditmon("env", "--format", "json")
    assert result.returncode == 0, result.stderr
    return clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir), **json.loads(result.stdout))


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON Lines recording, in order."""
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def events_of(records: list[dict], pid: int | None = None) -> list[dict]:
    """The event records, of one process if ``pid`` is given."""
    return [r for r in records if r["type"] == "event" and (pid is None or r["pid"] == pid)]


def all_messages(conn) -> list:
    """Every protocol message an agent sends on ``conn``, until it closes."""
    from auditmon import protocol

    conn.settimeout(30)
    unpacker = protocol.make_unpacker()
    # Not a poll: it reads until the agent hangs up (recv gives b"") or 30 s of silence.
    while data := conn.recv(1 << 16):
        unpacker.feed(data)
    conn.close()
    return list(unpacker)


def copy_readable_by_all(source: Path, into: Path) -> Path:
    """A copy of ``source`` (a file or a directory) in ``into`` that every user can read
    (and run, where we can): for a process the test starts as another user."""
    copy = into / source.name
    if source.is_dir():
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy2(source, copy)
    for item in [copy, *copy.rglob("*")]:
        mode = item.stat().st_mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
        if item.is_dir() or mode & stat.S_IXUSR:
            mode |= stat.S_IXGRP | stat.S_IXOTH
        item.chmod(mode)
    return copy


# -- waiting -----------------------------------------------------------------------------
# A timeout here is a bound on liveness, never a measurement: the wait fails only when
# the awaited thing does not happen at all, however slow or loaded the machine is.


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    message: str | None = None,
    *,
    interval: float = 0.02,
    state: Callable[[], object] | None = None,
    between: Callable[[], object] | None = None,
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that.

    Between calls it sleeps ``interval`` seconds, or calls ``between`` instead (e.g. to
    let an ingest loop read its sockets).  On timeout it fails saying what was awaited
    (``message``, else the predicate's source) and what was last seen (``state()``,
    else the predicate's last value).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(timed_out(predicate, timeout, message, state, value))
        if between is None:
            time.sleep(interval)
        else:
            between()


async def wait_until(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    message: str | None = None,
    *,
    interval: float = 0.05,
    state: Callable[[], object] | None = None,
) -> T:
    """``wait_for`` for async tests (Textual's Pilot): it sleeps with asyncio, so the
    app's event loop goes on processing messages meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(timed_out(predicate, timeout, message, state, value))
        await asyncio.sleep(interval)


def timed_out(
    predicate: Callable[[], object],
    timeout: float,
    message: str | None,
    state: Callable[[], object] | None,
    last: object,
) -> str:
    """What a wait that timed out says: what it waited for and what it saw last."""
    awaited = message or describe(predicate)
    seen = state() if state is not None else last
    shown = seen if isinstance(seen, str) else repr(seen)
    return f"timed out after {timeout:g} s waiting for {awaited}; last seen:\n{shown}"


def describe(function: Callable[..., object]) -> str:
    """A function's source (a lambda's line), else its name."""
    try:
        return inspect.getsource(function).strip()
    except (OSError, TypeError):
        return getattr(function, "__qualname__", repr(function))
