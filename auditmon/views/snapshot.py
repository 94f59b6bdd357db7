"""The main screen's data: immutable rows for every panel, built off the UI thread.

``build(session, view, now)`` is pure: what a panel shows is testable without a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditmon.catalog import risk_rank
from auditmon.model import values
from auditmon.model.ending import ending_text
from auditmon.model.filtering import Filter
from auditmon.model.session import EventStats, ProcessTotals, Session
from auditmon.views.detail import highest_risk, matching_occurrences
from auditmon.views.heat import Heatmap, heatmap

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
class Status:
    """The monitor's own state, shown with the data: what it follows and how that goes
    (``state``), the latest problem, and the launched command's output."""

    mode: str = ""
    state: str = ""
    problem: str | None = None
    output: tuple[tuple[str, str], ...] = ()
    output_total: int = 0


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
    status: Status = Status()


def build(session: Session, view: View, now: float) -> Snapshot:
    """The whole screen's data for ``view`` at time ``now``."""
    second = int(now)
    scoped = [t for t in session.scoped(view.process_id) if view.filter.matches_pid(t.process.pid)]
    processes = tuple(_process_rows(session, second))
    events, approximate = _event_rows(session, scoped, view, now)
    heat = heatmap(session, scoped, view, second)
    total = sum(t.total for t in scoped)
    rate = float(sum(t.seconds.get(second - 1, 0) for t in scoped))
    live = sum(1 for t in session.processes.values() if t.process.status == "running")
    dropped = sum(t.process.dropped + t.process.lost for t in scoped)
    return Snapshot(now, view, processes, events, heat, total, dropped, rate, live, approximate)


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
        state=ending_text(process.status, process.exit_code),
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
            matching = matching_occurrences(session, entries, flt)
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
