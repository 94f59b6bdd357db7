"""The session model: pure aggregation of what ingest delivers (no UI, no I/O)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from auditmon.ingest import Process


@dataclass
class ProcessTotals:
    """What one reporting process image has done so far."""

    process: Process
    events: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.events.values())


class Session:
    """Counts per event and per process, and drops, for the whole session."""

    def __init__(self) -> None:
        self.processes: dict[int, ProcessTotals] = {}
        self.event_counts: Counter[str] = Counter()
        self.first_time: float | None = None
        self.last_time: float | None = None

    # -- sink ----------------------------------------------------------------------
    def process_started(self, process: Process) -> None:
        self.processes[process.id] = ProcessTotals(process)

    def events(self, process: Process, events: list[list[Any]]) -> None:
        totals = self.processes[process.id].events
        names = [e[3] for e in events]
        totals.update(names)
        self.event_counts.update(names)
        if events:
            first, last = events[0][1], events[-1][1]
            if self.first_time is None or first < self.first_time:
                self.first_time = first
            if self.last_time is None or last > self.last_time:
                self.last_time = last

    def dropped(self, process: Process, count: int) -> None:
        """Drops are kept on the Process itself; nothing more to aggregate."""

    def process_ended(self, process: Process) -> None:
        """The Process carries its end state; totals stay."""

    # -- queries -------------------------------------------------------------------
    @property
    def total_events(self) -> int:
        return sum(self.event_counts.values())

    @property
    def total_dropped(self) -> int:
        return sum(p.process.dropped + p.process.lost for p in self.processes.values())

    def ordered_processes(self) -> list[ProcessTotals]:
        return sorted(self.processes.values(), key=lambda p: (p.process.start, p.process.id))

