"""Alert priorities: Falco's eight levels, so rule files and alert consumers built for
Falco (falcosidekick and the tools behind it) read auditmon's the same way."""

from __future__ import annotations

#: Falco's priorities, most severe first.
PRIORITIES = (
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
)
#: Ascending, as ordered query fields want them (``alert.priority>=warning``).
ASCENDING = tuple(reversed(PRIORITIES))
_ALIASES = {"info": "informational", "warn": "warning", "err": "error", "crit": "critical"}


def priority_named(text: str) -> str:
    """The priority ``text`` names, in any case (``Warning``, ``info``); ValueError else."""
    lowered = str(text).strip().lower()
    lowered = _ALIASES.get(lowered, lowered)
    if lowered not in PRIORITIES:
        raise ValueError(f"unknown priority {text!r} (one of: {', '.join(PRIORITIES)})")
    return lowered


def severity(priority: str) -> int:
    """A number that grows with severity: debug 0 … emergency 7."""
    return ASCENDING.index(priority)


def at_least(priority: str, threshold: str) -> bool:
    """Whether ``priority`` is ``threshold`` or more severe."""
    return severity(priority) >= severity(threshold)


def falco_name(priority: str) -> str:
    """The capitalised name Falco's JSON output uses (``Warning``)."""
    return priority.capitalize()
