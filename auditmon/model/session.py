"""The session model: pure aggregation of what ingest delivers (no UI, no I/O).

Counts cover the whole session, per event, process and second (seconds for the last
``HISTORY_SECONDS``); each (event, process) indexes its distinct argument lists
(``argindex``), so that answers under a filter are exact for the whole session; whole
occurrences are kept only for the most recent ``recent`` events of each (event,
process).  Memory stays bounded however long the session runs.  ``auditmon.views``
turns the model into immutable rows for the UI.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from auditmon.catalog import Catalog, load_catalog
from auditmon.model.alerts import AlertBook
from auditmon.model.argindex import DISTINCT_LIMIT, ArgIndex, IndexBudget
from auditmon.model.process import Process

_name = itemgetter(3)
KILL = "os.kill"
_time = itemgetter(1)

#: Seconds of per-second history kept (heatmap, sparklines, rates).
HISTORY_SECONDS = 600


@dataclass(frozen=True)
class Occurrence:
    """One recorded event, as kept for drill-down."""

    process_id: int
    pid: int
    seq: int
    time: float
    thread: int
    event: str
    args: tuple[Any, ...]
    stack: tuple[tuple[Any, ...], ...] | None
    thread_name: str | None = None  # where the agent sent it


@dataclass
class EventStats:
    """Everything aggregated about one event name in one process.

    ``raw`` keeps the latest events as they arrived; ``recent`` turns them into
    Occurrences only when someone looks.
    """

    name: str
    process: Process
    index: ArgIndex
    count: int = 0
    last_time: float = 0.0
    last_args: tuple[Any, ...] = ()
    seconds: Counter[int] = field(default_factory=Counter)
    raw: deque[list[Any]] = field(default_factory=deque)

    @property
    def recent(self) -> list[Occurrence]:
        process = self.process
        name_of = process.thread_name
        return [
            Occurrence(
                process.id,
                process.pid,
                seq,
                when,
                thread,
                name,
                tuple(args),
                tuple(tuple(f) for f in stack) if stack else None,
                name_of(thread, seq),
            )
            for seq, when, thread, name, args, stack in self.raw
        ]


@dataclass
class ProcessTotals:
    """What one reporting process image has done so far."""

    process: Process
    events: Counter[str] = field(default_factory=Counter)
    stats: dict[str, EventStats] = field(default_factory=dict)
    seconds: Counter[int] = field(default_factory=Counter)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.events.values())


class Session:
    """Counts per event, per process and per second; recent occurrences for drill-down."""

    def __init__(
        self,
        catalog: Catalog | None = None,
        recent: int = 100,
        detailed: bool = True,
        distinct: int = DISTINCT_LIMIT,
        indexed: frozenset[str] = frozenset(),
    ) -> None:
        self.catalog = catalog or load_catalog()
        self.recent = recent
        # False: counts per name only, and the argument index of the ``indexed`` names
        # (what the headless summary needs; a recorder keeps up best with no more).
        self.detailed = detailed
        self.indexed = indexed
        self.budget = IndexBudget(distinct)
        self.selections: dict[str, Any] = {}  # query text -> its Selection (see selection.py)
        self.processes: dict[int, ProcessTotals] = {}
        self.event_counts: Counter[str] = Counter()
        self.first_time: float | None = None
        self.last_time: float | None = None
        self.ended: list[Process] = []
        # pid -> (signal, sender pid, time): the os.kill events seen, which say how a
        # process that vanished without a goodbye ended (a Pool's workers, say).
        self.kills: dict[int, tuple[int, int, float]] = {}
        self._pruned_at = 0
        self._categories: dict[str, str] = {}
        self.alerts = AlertBook()  # fed by the rule engine, when rules are loaded

    # -- sink ----------------------------------------------------------------------
    def process_started(self, process: Process) -> None:
        self.processes[process.id] = ProcessTotals(process)

    def events(self, process: Process, events: list[list[Any]], raw: bytes | None = None) -> None:
        """Aggregate one batch, grouped by event name so most work runs in C."""
        if not events:
            return
        totals = self.processes[process.id]
        names = list(map(_name, events))
        if KILL in names:
            self._kills(process, events)
        if not self.detailed:
            totals.events.update(names)
            self.event_counts.update(names)
            self._times(events)
            indexed = self.indexed
            if indexed and not indexed.isdisjoint(names):
                self._index(process, totals, [e for e in events if e[3] in indexed])
                self._prune(int(self.last_time or 0))
            return
        self._index(process, totals, events)
        self._prune(int(self._times(events)))

    def _index(self, process: Process, totals: ProcessTotals, events: list[list[Any]]) -> None:
        """Aggregate events per name: counts, seconds, the argument index, the latest."""
        stats = totals.stats
        detailed = self.detailed
        groups: dict[str, list[list[Any]]] = {}
        for event in events:
            group = groups.get(event[3])
            if group is None:
                groups[event[3]] = [event]
            else:
                group.append(event)
        for name, group in groups.items():
            entry = stats.get(name)
            if entry is None:
                entry = stats[name] = EventStats(
                    name, process, ArgIndex(self.budget), raw=deque(maxlen=self.recent)
                )
            entry.count += len(group)
            last = group[-1]
            entry.last_time = last[1]
            entry.last_args = tuple(last[4])
            entry.raw.extend(group)
            seconds = [int(e[1]) for e in group]
            entry.seconds.update(seconds)
            entry.index.add([e[4] for e in group], seconds)
            if detailed:
                totals.seconds.update(seconds)
                totals.events[name] += len(group)
        if detailed:
            self.event_counts.update({name: len(group) for name, group in groups.items()})

    def _times(self, events: list[list[Any]]) -> float:
        """Widen the session's time span; return the batch's latest time."""
        times = list(map(_time, events))
        first, last_time = min(times), max(times)
        if self.first_time is None or first < self.first_time:
            self.first_time = first
        if self.last_time is None or last_time > self.last_time:
            self.last_time = last_time
        return last_time

    def dropped(self, process: Process, count: int) -> None:
        """Drops are kept on the Process itself; nothing more to aggregate."""

    def _kills(self, process: Process, events: list[list[Any]]) -> None:
        for event in events:
            args = event[4]
            if event[3] == KILL and len(args) >= 2 and type(args[0]) is int:
                if type(args[1]) is int and args[1] > 0:
                    self.kills[args[0]] = (args[1], process.pid, event[1])

    def process_ended(self, process: Process) -> None:
        """A process's stream ended.  One that vanished without a goodbye just after a
        monitored process sent it a signal (``os.kill``) was killed by that signal."""
        kill = self.kills.get(process.pid)
        if process.status == "disconnected" and process.exit_code is None and kill:
            signal, sender, when = kill
            end = process.end_time if process.end_time is not None else when
            if when - 1.0 <= end and when >= process.start:
                process.exit_code = -signal
                process.killed_by = sender
        self.ended.append(process)

    def set_facts(self, process_id: int, facts: dict[str, Any]) -> None:
        """psutil's facts about a live process (CPU %, RSS, threads, open files)."""
        if process_id in self.processes:
            self.processes[process_id].facts = facts

    def _prune(self, now: int) -> None:
        """Forget per-second counts older than the history, once a minute of event time."""
        if now - self._pruned_at < 60:
            return
        self._pruned_at = now
        horizon = now - HISTORY_SECONDS
        for totals in self.processes.values():
            for counter in [totals.seconds, *(s.seconds for s in totals.stats.values())]:
                for second in [s for s in counter if s < horizon]:
                    del counter[second]
            for entry in totals.stats.values():
                entry.index.prune(horizon)

    # -- queries -------------------------------------------------------------------
    def category_of(self, name: str) -> str:
        category = self._categories.get(name)
        if category is None:
            category = self._categories[name] = self.catalog.info(name).category
        return category

    @property
    def total_events(self) -> int:
        return sum(self.event_counts.values())

    @property
    def total_dropped(self) -> int:
        return sum(p.process.dropped + p.process.lost for p in self.processes.values())

    def ordered_processes(self) -> list[ProcessTotals]:
        return sorted(self.processes.values(), key=lambda p: (p.process.start, p.process.id))

    def lineage(self, process: Process) -> list[Process]:
        """The ancestors of ``process`` that reported, nearest first."""
        by_pid = {t.process.pid: t.process for t in self.ordered_processes()}
        found: list[Process] = []
        seen = {process.pid}
        parent = by_pid.get(process.ppid)
        while parent is not None and parent.pid not in seen:
            found.append(parent)
            seen.add(parent.pid)
            parent = by_pid.get(parent.ppid)
        return found

    def scoped(self, process_id: int | None) -> list[ProcessTotals]:
        """The processes a view covers: one, or all."""
        if process_id is None:
            return list(self.processes.values())
        totals = self.processes.get(process_id)
        return [totals] if totals is not None else []
