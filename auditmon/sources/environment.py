"""The environment that carries the agent into a target and all its Python children."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from auditmon.agentpath import agent_dir
from auditmon.protocol import agent_constants as _agent

# The settings' names, as the agent reads them (its constants.py).
MODE = _agent.ENV_MODE
SOCKET = _agent.ENV_SOCKET
EVENTS = _agent.ENV_EVENTS
EXCLUDE = _agent.ENV_EXCLUDE
STACK = _agent.ENV_STACK
STACK_DEPTH = _agent.ENV_STACK_DEPTH
LONE = _agent.ENV_LONE


def can_follow_processes() -> bool:
    """Whether the monitor can learn of a process's end from the process itself (a
    pidfd), as it must for an agent that closes its socket after the hello."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return True


def python_path_with_agent(existing: str | None) -> str:
    """``PYTHONPATH`` with the agent directory first (once)."""
    agent = str(agent_dir())
    parts = [p for p in (existing or "").split(os.pathsep) if p and p != agent]
    return os.pathsep.join([agent, *parts])


def preload_library() -> Path | None:
    """The preload library (agent/preload/) beside the agent, None where it was not built
    (no compiler at install time): the agent then reaches only the processes that
    PYTHONPATH brings it into."""
    library = agent_dir() / _agent.PRELOAD_LIBRARY
    return library if library.is_file() else None


def ld_preload_with_library(existing: str | None, library: Path) -> str:
    """``LD_PRELOAD`` with the preload library first (once); the loader splits the list
    on colons and spaces."""
    ours = str(library)
    parts = [p for p in (existing or "").replace(" ", ":").split(":") if p and p != ours]
    return ":".join([ours, *parts])


def agent_settings(
    mode: str,
    socket_path: str | Path | None = None,
    events: Sequence[str] = (),
    exclude: Sequence[str] = (),
    stack: Sequence[str] = (),
    stack_depth: int | None = None,
) -> dict[str, str]:
    """The ``AUDITMON_*`` variables the agent reads (see agent/_auditmon_agent/constants.py)."""
    settings = {MODE: mode}
    if socket_path is not None:
        settings[SOCKET] = str(socket_path)
    if mode == "attach" or can_follow_processes():
        settings[LONE] = "1"  # attach: a monitor calls a lone agent (sources/calling.py)
    for name, globs in ((EVENTS, events), (EXCLUDE, exclude), (STACK, stack)):
        if globs:
            settings[name] = ",".join(globs)
    if stack_depth is not None:
        settings[STACK_DEPTH] = str(stack_depth)
    return settings


def target_environment(
    settings: Mapping[str, str],
    base: Mapping[str, str] | None = None,
    preload: bool = True,
) -> dict[str, str]:
    """``base`` (default: ours) with the agent on PYTHONPATH, its preload library in
    LD_PRELOAD (``preload``, where it was built) and ``settings`` applied.

    PYTHONPATH brings the agent into a plain ``python``; the preload library into the
    Python processes PYTHONPATH can't reach (-I, -E, -S, a PYTHONPATH replaced or
    removed by a parent, as pip's isolated builds do).  Agent settings inherited from
    ``base`` (an ``auditmon env`` shell) are replaced.
    """
    env = dict(os.environ if base is None else base)
    for name in (MODE, SOCKET, EVENTS, EXCLUDE, STACK, STACK_DEPTH, LONE):
        env.pop(name, None)
    env.update(settings)
    env["PYTHONPATH"] = python_path_with_agent(env.get("PYTHONPATH"))
    library = preload_library() if preload else None
    if library is not None:
        env["LD_PRELOAD"] = ld_preload_with_library(env.get("LD_PRELOAD"), library)
    return env


def runtime_dir() -> Path:
    """Where attachable processes of this user listen (same rule as the agent's)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    override = os.environ.get(_agent.ENV_RUNTIME_DIR)
    if override:
        return Path(override)
    if xdg and os.path.isdir(xdg):
        return Path(xdg) / "auditmon"
    return Path(f"/tmp/auditmon-{os.getuid()}")
