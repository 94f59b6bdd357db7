"""Where the agent directory is: what goes on a target's PYTHONPATH."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def agent_dir() -> Path:
    """The installed copy (``auditmon/_agent``) or, in a source checkout, ``agent/``."""
    for candidate in (_PACKAGE / "_agent", _PACKAGE.parent / "agent"):
        if (candidate / "sitecustomize.py").is_file() and (
            candidate / "_auditmon_agent" / "wire.py"
        ).is_file():
            return candidate
    raise FileNotFoundError("the auditmon agent directory is missing from this installation")
