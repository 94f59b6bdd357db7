"""Fixtures shared by the tests; plain helpers are in ``helpers.py``.

    .venv/bin/python -m pytest -m "not system"   # the quick inner loop: no real targets
    .venv/bin/python -m pytest                    # everything, as CI runs it

Tests marked ``system`` start real processes: auditmon, agents in targets, tmux, pip
and venvs, other interpreters (``-m system`` runs only those).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import (
    WORKLOADS,
    agent_door,
    attach_env,
    constrained,
    system_python_or_skip,
    wait_for,
)


@pytest.fixture(params=["venv", "system"])
def target_python(request) -> str:
    """The interpreter a workload runs under: ours (with msgpack) or one outside any
    venv without msgpack (Debian's python3 here)."""
    if request.param == "venv":
        return sys.executable
    return system_python_or_skip()


@pytest.fixture(params=["native", "python"])
def agent_kind(request) -> str:
    """Which agent the target runs: the C fast path or the pure-Python hook."""
    return request.param


@pytest.fixture
def no_msgpack_python() -> str:
    """An interpreter that cannot import msgpack, to prove the agent needs nothing."""
    return system_python_or_skip()


@pytest.fixture
def runtime_dir(tmp_path_factory) -> Path:
    """A private attach directory for one test, so tests don't see each other."""
    path = tmp_path_factory.mktemp("rt")
    os.chmod(path, 0o700)
    return path / "auditmon"


@pytest.fixture(params=["listening", "lone"])
def ticker(request, tmp_path, runtime_dir):
    """A running attachable process; stopped (by its stop file) at the end.  Its agent
    listens (AUDITMON_LONE unset: a listener even where it is in the target's sight), or
    is lone, called by the monitor (its descriptor limit can't be raised: the agent's
    listener would be in sight), whatever this machine's limits."""
    stop = tmp_path / "stop"
    env = attach_env(runtime_dir)
    command = [sys.executable, str(WORKLOADS / "ticker.py"), str(stop)]
    if request.param == "lone":
        command = constrained(command)
    else:
        del env["AUDITMON_LONE"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ticker ready\n"
    wait_for(
        lambda: agent_door(runtime_dir, process.pid) is not None,
        message=f"the ticker's agent in {runtime_dir}",
    )
    process.stop_file = stop
    process.door = agent_door(runtime_dir, process.pid)
    assert process.door.suffix == (".lone" if request.param == "lone" else ".sock")
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
