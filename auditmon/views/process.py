"""One process, whole: what it is, where it sits in the tree, what it did most."""

from __future__ import annotations

from dataclasses import dataclass

from auditmon.model.ending import process_ending
from auditmon.model.process import Process
from auditmon.model.session import Session


@dataclass(frozen=True)
class ProcessDetail:
    """Everything the process view shows (``None``: the process is not known)."""

    process: Process
    state: str
    ancestors: tuple[tuple[int, str], ...]  # (pid, command), nearest first
    children: tuple[tuple[int, int, str, str], ...]  # (id, pid, command, state)
    top_events: tuple[tuple[str, int], ...]
    events: int
    facts: dict


def process_detail(session: Session, process_id: int, top: int = 15) -> ProcessDetail | None:
    totals = session.processes.get(process_id)
    if totals is None:
        return None
    process = totals.process
    ancestors = tuple((p.pid, p.command) for p in session.lineage(process))
    children = tuple(
        (t.process.id, t.process.pid, t.process.command, _state(t.process))
        for t in session.ordered_processes()
        if t.process.ppid == process.pid and t.process.id != process.id
    )
    counts = sorted(totals.stats.items(), key=lambda item: (-item[1].count, item[0]))
    top_events = tuple((name, entry.count) for name, entry in counts[:top])
    events = sum(entry.count for entry in totals.stats.values()) or totals.total
    facts = dict(totals.facts) if process.status == "running" else {}
    return ProcessDetail(process, _state(process), ancestors, children, top_events, events, facts)


def _state(process: Process) -> str:
    return process_ending(process)
