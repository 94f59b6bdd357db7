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


def python_path_with_agent(existing: str | None) -> str:
    """``PYTHONPATH`` with the agent directory first (once)."""
    agent = str(agent_dir())
    parts = [p for p in (existing or "").split(os.pathsep) if p and p != agent]
    return os.pathsep.join([agent, *parts])


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
    for name, globs in ((EVENTS, events), (EXCLUDE, exclude), (STACK, stack)):
        if globs:
            settings[name] = ",".join(globs)
    if stack_depth is not None:
        settings[STACK_DEPTH] = str(stack_depth)
    return settings


def target_environment(
    settings: Mapping[str, str], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``base`` (default: ours) with the agent on PYTHONPATH and ``settings`` applied.

    Agent settings inherited from ``base`` (an ``auditmon env`` shell) are replaced.
    """
    env = dict(os.environ if base is None else base)
    for name in (MODE, SOCKET, EVENTS, EXCLUDE, STACK, STACK_DEPTH):
        env.pop(name, None)
    env.update(settings)
    env["PYTHONPATH"] = python_path_with_agent(env.get("PYTHONPATH"))
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
