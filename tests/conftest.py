"""Shared helpers: run auditmon and workloads as real processes, read recordings."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ROOT / "tests" / "workloads"
AGENT_DIR = ROOT / "agent"

#: Debian's own interpreter, outside any venv: it has no msgpack and no auditmon.
SYSTEM_PYTHON = "/usr/bin/python3"
NOBODY = 65534
"""The uid of tests that need another user ("nobody")."""


def has_system_python() -> bool:
    return os.access(SYSTEM_PYTHON, os.X_OK)


def clean_env(**extra: str) -> dict[str, str]:
    """Our environment without any agent settings a developer's shell may carry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITMON_")}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def auditmon(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run the auditmon CLI as a real process and capture its output."""
    kwargs.setdefault("env", clean_env())
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run([sys.executable, "-m", "auditmon", *args], timeout=timeout, **kwargs)


def run_recorded(
    record: Path, *command: str, options: tuple[str, ...] = (), **kwargs
) -> subprocess.CompletedProcess:
    """``auditmon run --headless --record RECORD [OPTIONS] -- COMMAND``."""
    return auditmon(
        "run", "--headless", "--record", str(record), *options, "--", *command, **kwargs
    )


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def events_of(records: list[dict], pid: int | None = None) -> list[dict]:
    return [r for r in records if r["type"] == "event" and (pid is None or r["pid"] == pid)]


@pytest.fixture(params=["venv", "system"])
def target_python(request) -> str:
    """The interpreter a workload runs under: ours (with msgpack) or Debian's (without)."""
    if request.param == "venv":
        return sys.executable
    if not has_system_python():
        pytest.skip(f"{SYSTEM_PYTHON} is not installed on this machine")
    return SYSTEM_PYTHON


@pytest.fixture(params=["native", "python"])
def agent_kind(request) -> str:
    """Which agent the target runs: the C fast path or the pure-Python hook."""
    return request.param


def agent_env(kind: str, **extra: str) -> dict[str, str]:
    """``clean_env`` choosing the agent implementation (AUDITMON_AGENT)."""
    return clean_env(AUDITMON_AGENT=kind, **extra)


@pytest.fixture
def no_msgpack_python() -> str:
    """An interpreter that cannot import msgpack, to prove the agent needs nothing."""
    if not has_system_python():
        pytest.skip(f"{SYSTEM_PYTHON} is not installed on this machine")
    check = subprocess.run([SYSTEM_PYTHON, "-c", "import msgpack"], capture_output=True)
    assert check.returncode != 0, "the system python has msgpack; the test would prove nothing"
    return SYSTEM_PYTHON


@pytest.fixture
def runtime_dir(tmp_path_factory) -> Path:
    """A private attach directory for one test, so tests don't see each other."""
    path = tmp_path_factory.mktemp("rt")
    os.chmod(path, 0o700)
    return path / "auditmon"


def all_messages(conn) -> list:
    """Every protocol message an agent sends on ``conn``, until it closes."""
    from auditmon import protocol

    conn.settimeout(30)
    unpacker = protocol.make_unpacker()
    while data := conn.recv(1 << 16):
        unpacker.feed(data)
    conn.close()
    return list(unpacker)


def which(name: str) -> str | None:
    return shutil.which(name)


def attach_env(runtime_dir):
    """The environment `auditmon env --format json` gives, in a private runtime dir."""
    result = auditmon("env", "--format", "json")
    assert result.returncode == 0, result.stderr
    return clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir), **json.loads(result.stdout))


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def ticker(tmp_path, runtime_dir):
    """A running attachable process; stopped (by its stop file) at the end."""
    stop = tmp_path / "stop"
    env = attach_env(runtime_dir)
    process = subprocess.Popen(
        [sys.executable, str(WORKLOADS / "ticker.py"), str(stop)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "ticker ready\n"
    sock = runtime_dir / f"{process.pid}.sock"
    wait_for(sock.exists)
    process.stop_file = stop
    process.sock = sock
    yield process
    stop.touch()
    process.wait(timeout=15)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory any user can read, outside pytest's private (0700) tree: what a test
    runs as another user must be in there (the checkout may be readable by us alone)."""
    path = Path(tempfile.mkdtemp(prefix="auditmon-shared-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


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
