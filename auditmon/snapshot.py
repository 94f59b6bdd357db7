"""Immutable views of the session for the UI, built off the UI thread.

``build(session, view, now)`` is pure: what a panel shows is testable without a terminal.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from auditmon import values
from auditmon.catalog import risk_for, risk_rank
from auditmon.filtering import Filter
from auditmon.model import EventStats, Occurrence, ProcessTotals, Session

SPARK_SECONDS = 60
SORT_KEYS = ("count", "rate", "name", "risk", "recent")


@dataclass(frozen=True)
class View:
    """What the UI asks to see: a process scope, a filter, a sort and a heatmap width."""

    process_id: int | None = None
    filter: Filter = field(default_factory=Filter)
    sort: str = "count"
    heat_columns: int = 40
    heat_all_categories: bool = True  # False in narrow terminals: only those with events


@dataclass(frozen=True)
class ProcessRow:
    id: int
    pid: int
    ppid: int
    depth: int
    command: str
    state: str
    events: int
    rate: float
    spark: tuple[int, ...]
    dropped: int
    cpu: float | None
    rss: int | None
    threads: int | None
    open_files: int | None
    python: str
    agent: str


@dataclass(frozen=True)
class EventRow:
    name: str
    category: str
    risk: str
    count: int
    rate: float
    processes: int
    preview: str
    last_time: float


@dataclass(frozen=True)
class Heatmap:
    """Counts per category (rows) and second (columns, oldest first)."""

    categories: tuple[str, ...]
    start: int
    cells: tuple[tuple[int, ...], ...]
    totals: tuple[int, ...]
    peak: int


@dataclass(frozen=True)
class Snapshot:
    time: float
    view: View
    processes: tuple[ProcessRow, ...]
    events: tuple[EventRow, ...]
    heatmap: Heatmap
    total_events: int
    total_dropped: int
    rate: float
    live_processes: int
    approximate: bool


@dataclass(frozen=True)
class ArgumentSummary:
    name: str
    top: tuple[tuple[str, int], ...]
    approximate: bool


@dataclass(frozen=True)
class EventDetail:
    """The drill-down of one event within a view."""

    name: str
    category: str
    risk: str
    summary: str
    docs: tuple[str, ...]
    count: int
    arg_names: tuple[str, ...]
    arguments: tuple[ArgumentSummary, ...]
    occurrences: tuple[Occurrence, ...]


def state_text(totals: ProcessTotals) -> str:
    process = totals.process
    if process.status == "running":
        return "running"
    if process.exit_code is not None:
        code = process.exit_code
        return f"killed by signal {-code}" if code < 0 else f"exited {code}"
    return process.status


def build(session: Session, view: View, now: float) -> Snapshot:
    """The whole screen's data for ``view`` at time ``now``."""
    second = int(now)
    scoped = [t for t in session.scoped(view.process_id) if view.filter.matches_pid(t.process.pid)]
    processes = tuple(_process_rows(session, second))
    events, approximate = _event_rows(session, scoped, view, now)
    heatmap = _heatmap(session, scoped, view, second)
    total = sum(t.total for t in scoped)
    rate = float(sum(t.seconds.get(second - 1, 0) for t in scoped))
    live = sum(1 for t in session.processes.values() if t.process.status == "running")
    dropped = sum(t.process.dropped + t.process.lost for t in scoped)
    return Snapshot(now, view, processes, events, heatmap, total, dropped, rate, live, approximate)


def _process_rows(session: Session, second: int) -> list[ProcessRow]:
    ordered = session.ordered_processes()
    by_pid: dict[int, ProcessTotals] = {}
    for totals in ordered:
        by_pid[totals.process.pid] = totals  # the latest image of a pid
    children: dict[int | None, list[ProcessTotals]] = {}
    for totals in ordered:
        parent = totals.process.ppid if totals.process.ppid in by_pid else None
        if parent == totals.process.pid:
            parent = None
        children.setdefault(parent, []).append(totals)
    rows: list[ProcessRow] = []
    seen: set[int] = set()

    def walk(parent: int | None, depth: int) -> None:
        for totals in children.get(parent, []):
            if totals.process.id in seen:
                continue
            seen.add(totals.process.id)
            rows.append(_process_row(totals, depth, second))
            if by_pid.get(totals.process.pid) is totals:
                walk(totals.process.pid, depth + 1)

    walk(None, 0)
    for totals in ordered:  # anything a cycle hid
        if totals.process.id not in seen:
            rows.append(_process_row(totals, 0, second))
    return rows


def _process_row(totals: ProcessTotals, depth: int, second: int) -> ProcessRow:
    process, facts = totals.process, totals.facts
    spark = tuple(totals.seconds.get(s, 0) for s in range(second - SPARK_SECONDS, second))
    return ProcessRow(
        id=process.id,
        pid=process.pid,
        ppid=process.ppid,
        depth=depth,
        command=process.command,
        state=state_text(totals),
        events=totals.total,
        rate=float(totals.seconds.get(second - 1, 0)),
        spark=spark,
        dropped=process.dropped + process.lost,
        cpu=facts.get("cpu"),
        rss=facts.get("rss"),
        threads=facts.get("threads"),
        open_files=facts.get("open_files"),
        python=process.python,
        agent=process.agent,
    )


def _matching_occurrences(
    session: Session, stats: list[EventStats], flt: Filter
) -> list[Occurrence]:
    found = []
    for entry in stats:
        names = session.catalog.arg_names(entry.name, max(len(entry.last_args), 1))
        for occurrence in entry.recent:
            shown = [values.display(a) for a in occurrence.args]
            if all(c.holds(names, shown) for c in flt.args):
                found.append(occurrence)
    return found


def _event_rows(
    session: Session, scoped: list[ProcessTotals], view: View, now: float
) -> tuple[tuple[EventRow, ...], bool]:
    flt = view.filter
    grouped: dict[str, list[EventStats]] = {}
    for totals in scoped:
        for name, entry in totals.stats.items():
            if flt.matches_event(name, session.catalog):
                grouped.setdefault(name, []).append(entry)
    second = int(now)
    rows = []
    for name, entries in grouped.items():
        info = session.catalog.info(name)
        if flt.args:
            matching = _matching_occurrences(session, entries, flt)
            if not matching:
                continue
            count = len(matching)
            latest = max(matching, key=lambda o: o.time)
            preview_args, last_time = latest.args, latest.time
        else:
            count = sum(e.count for e in entries)
            latest_entry = max(entries, key=lambda e: e.last_time)
            preview_args, last_time = latest_entry.last_args, latest_entry.last_time
        rate = float(sum(e.seconds.get(second - 1, 0) for e in entries))
        risk = highest_risk(name, info.risk, entries)
        names = session.catalog.arg_names(name, len(preview_args))
        preview = ", ".join(f"{n}={values.display(v, 60)}" for n, v in zip(names, preview_args))
        rows.append(
            EventRow(name, info.category, risk, count, rate, len(entries), preview, last_time)
        )
    return tuple(sort_rows(rows, view.sort, session)), bool(flt.args)


def highest_risk(name: str, static: str, entries: list[EventStats]) -> str:
    """The static risk, raised by what kept occurrences show (``open`` for writing)."""
    if name != "open":
        return static
    for entry in entries:
        for occurrence in entry.recent:
            if risk_for(name, occurrence.args) == "warning":
                return "warning"
    return static


def sort_rows(rows: list[EventRow], key: str, session: Session) -> list[EventRow]:
    if key == "name":
        return sorted(rows, key=lambda r: r.name)
    if key == "rate":
        return sorted(rows, key=lambda r: (-r.rate, -r.count, r.name))
    if key == "risk":
        return sorted(rows, key=lambda r: (-risk_rank(r.risk), -r.count, r.name))
    if key == "recent":
        return sorted(rows, key=lambda r: (-r.last_time, r.name))
    return sorted(rows, key=lambda r: (-r.count, r.name))


def _heatmap(session: Session, scoped: list[ProcessTotals], view: View, second: int) -> Heatmap:
    columns = max(1, view.heat_columns)
    start = second - columns + 1
    categories = [c.name for c in session.catalog.categories()]
    per_category: dict[str, Counter[int]] = {c: Counter() for c in categories}
    totals: Counter[str] = Counter()
    flt = view.filter
    for process_totals in scoped:
        for name, entry in process_totals.stats.items():
            if not flt.matches_event(name, session.catalog):
                continue
            category = session.category_of(name)
            totals[category] += entry.count
            bucket = per_category[category]
            for s, n in entry.seconds.items():
                if s >= start:
                    bucket[s] += n
    # One row per category (Windows' only where it has events); a narrow terminal keeps
    # just the categories with events in scope.
    shown = [c for c in categories if totals[c] or (view.heat_all_categories and c != "windows")]
    if not shown:
        shown = [c for c in categories if c != "windows"]
    cells = tuple(tuple(per_category[c].get(s, 0) for s in range(start, second + 1)) for c in shown)
    peak = max((max(row) for row in cells if row), default=0)
    return Heatmap(tuple(shown), start, cells, tuple(totals[c] for c in shown), peak)


def heat_level(count: int, peak: int, levels: int) -> int:
    """0 for nothing, else 1..levels on a log scale relative to the peak."""
    if count <= 0 or peak <= 0:
        return 0
    if peak == 1:
        return levels
    return max(1, min(levels, 1 + int((levels - 1) * math.log(count) / math.log(peak))))


def event_detail(
    session: Session, name: str, view: View, top: int = 8, limit: int = 200
) -> EventDetail:
    """Argument value counts and recent occurrences of one event in ``view``."""
    info = session.catalog.info(name)
    entries = [
        t.stats[name]
        for t in session.scoped(view.process_id)
        if name in t.stats and view.filter.matches_pid(t.process.pid)
    ]
    width = max((len(e.arg_values) for e in entries), default=0)
    arg_names = tuple(session.catalog.arg_names(name, width))
    if view.filter.args:
        occurrences = _matching_occurrences(session, entries, view.filter)
        arguments = _summaries_from(occurrences, arg_names, top)
        count = len(occurrences)
    else:
        occurrences = [o for e in entries for o in e.recent]
        arguments = []
        for i, arg in enumerate(arg_names):
            merged: Counter[Any] = Counter()
            samples: dict[Any, Any] = {}
            approximate = False
            for entry in entries:
                if i < len(entry.arg_values):
                    counts = entry.arg_values[i]
                    merged.update(counts.counts)
                    samples.update(counts.samples)
                    approximate = approximate or counts.approximate
            rows = tuple(
                (values.display(samples.get(k, k), 120), c) for k, c in merged.most_common(top)
            )
            arguments.append(ArgumentSummary(arg, rows, approximate))
        count = sum(e.count for e in entries)
    occurrences.sort(key=lambda o: (o.time, o.seq), reverse=True)
    return EventDetail(
        name,
        info.category,
        highest_risk(name, info.risk, entries),
        info.summary,
        info.docs,
        count,
        arg_names,
        tuple(arguments),
        tuple(occurrences[:limit]),
    )


def _summaries_from(
    occurrences: list[Occurrence], arg_names: tuple[str, ...], top: int
) -> list[ArgumentSummary]:
    out = []
    for i, arg in enumerate(arg_names):
        counts = Counter(values.display(o.args[i], 120) for o in occurrences if i < len(o.args))
        out.append(ArgumentSummary(arg, tuple(counts.most_common(top)), True))
    return out
