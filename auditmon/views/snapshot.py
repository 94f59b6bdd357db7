"""The main screen's data: immutable rows for every panel, built off the UI thread.

``build(session, view, now)`` is pure: what a panel shows is testable without a terminal.
Every panel counts the same world: the events the view's filter selects (exactly, for
the whole session: ``auditmon.model.selection``) in the view's scope.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from auditmon.catalog import risk_rank
from auditmon.model import values
from auditmon.model.ending import ending_text
from auditmon.model.filtering import Filter
from auditmon.model.query import Subject
from auditmon.model.selection import EntryMatch, Selection, selection_for
from auditmon.model.session import EventStats, ProcessTotals, Session
from auditmon.text import shorten
from auditmon.views.alerts import AlertsView, alerts_view
from auditmon.views.heat import Heatmap, heatmap

SPARK_SECONDS = 60
SORT_KEYS = ("count", "rate", "name", "risk", "recent")
PROCESS_SORT_KEYS = ("tree", "events", "rate", "pid", "command")


@dataclass(frozen=True)
class View:
    """What the UI asks to see: a process scope, a filter, a sort and a heatmap width."""

    process_id: int | None = None
    filter: Filter = field(default_factory=Filter)
    sort: str = "count"
    process_sort: str = "tree"
    heat_columns: int = 40
    heat_all_categories: bool = True  # False in narrow terminals: only those with events


@dataclass(frozen=True)
class ProcessRow:
    """One process in the tree; ``events``, ``rate`` and ``spark`` count what the
    view's filter selects, ``rate`` None once it no longer runs."""

    id: int
    pid: int
    ppid: int
    depth: int
    command: str
    state: str
    events: int
    rate: float | None
    spark: tuple[int, ...]
    dropped: int
    cpu: float | None
    rss: int | None
    threads: int | None
    open_files: int | None
    python: str
    agent: str
    alert: str | None = None  # the most severe priority alerted in this process


@dataclass(frozen=True)
class EventRow:
    """One event in scope; ``risk`` is the highest of its selected occurrences',
    ``unchecked`` the events an argument filter could not check (see ``argindex``)."""

    name: str
    category: str
    risk: str
    count: int
    rate: float | None
    processes: int
    preview: str
    last_time: float
    unchecked: int = 0


@dataclass(frozen=True)
class Status:
    """The monitor's own state, shown with the data: what it follows and how that goes
    (``state``), the latest problem, and the launched command's output."""

    mode: str = ""
    state: str = ""
    problem: str | None = None
    output: tuple[tuple[str, str], ...] = ()
    output_total: int = 0
    command_running: bool = False  # ``run``: the launched command has not ended yet


@dataclass(frozen=True)
class Snapshot:
    """Every panel's data, for one view: the same filtered, scoped world in each.

    ``total_events`` and ``rate`` count what the filter selects in the scope;
    ``total_dropped`` counts every event of the scope that never arrived (a dropped event
    cannot be filtered); ``unchecked`` the events an argument filter could not check.
    """

    time: float
    view: View
    processes: tuple[ProcessRow, ...]
    events: tuple[EventRow, ...]
    heatmap: Heatmap
    total_events: int
    total_dropped: int
    rate: float | None
    live_processes: int
    unchecked: int
    scope: str = "all processes"
    startup_unseen: int = 0  # monitored processes whose start-up events were not seen
    status: Status = Status()
    alerts: AlertsView = AlertsView()


def build(session: Session, view: View, now: float, live: bool = True) -> Snapshot:
    """The whole screen's data for ``view`` at time ``now``; ``live`` False once nothing
    more can arrive (a finished replay): then there are no rates."""
    second = int(now)
    selection = selection_for(session, view.filter)
    window = Window(selection, second - max(SPARK_SECONDS, view.heat_columns), view.process_sort)
    marks = session.alerts.marks()
    processes = tuple(
        replace(row, alert=marks[row.id]) if row.id in marks else row
        for row in _process_rows(session, window, second, live)
    )
    scoped = session.scoped(view.process_id)
    matches = [window.match(e) for t in scoped for e in t.stats.values()]
    events = _event_rows(session, matches, window, view, second, live)
    heat = heatmap(session, matches, view, second, window)
    total = sum(m.count for m in matches)
    rate = float(sum(window.seconds(m).get(second - 1, 0) for m in matches)) if live else None
    running = sum(1 for t in session.processes.values() if t.process.status == "running")
    dropped = sum(t.process.dropped + t.process.lost for t in scoped)
    unchecked = sum(m.unchecked for m in matches)
    return Snapshot(
        now,
        view,
        processes,
        events,
        heat,
        total,
        dropped,
        rate,
        running,
        unchecked,
        scope_text(session, view.process_id),
        startup_unseen=sum(1 for t in scoped if t.process.monitored and not t.process.startup_seen),
        alerts=alerts_view(session),
    )


class Window:
    """A selection's matches and their counts per second, each worked out once per
    snapshot: from ``start`` on (or more: a whole entry's own counter, not copied)."""

    def __init__(self, selection: Selection, start: int, process_sort: str = "tree") -> None:
        self.selection = selection
        self.start = start
        self.process_sort = process_sort
        self._seconds: dict[int, Counter[int]] = {}

    def match(self, entry: EventStats) -> EntryMatch:
        return self.selection.match(entry)

    def seconds(self, match: EntryMatch) -> Counter[int]:
        if match.decided is True:
            return match.entry.seconds
        key = id(match)
        found = self._seconds.get(key)
        if found is None:
            found = self._seconds[key] = match.per_second(self.start)
        return found


def scope_text(session: Session, process_id: int | None) -> str:
    """What the view covers, in words: ``all processes`` or ``pid 4101 python3 app.py``."""
    totals = session.processes.get(process_id) if process_id is not None else None
    if totals is None:
        return "all processes"
    process = totals.process
    return f"pid {process.pid} {shorten(' '.join(process.command.split()), 40)}"


def _process_rows(session: Session, window: Window, second: int, live: bool) -> list[ProcessRow]:
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
            rows.append(_process_row(totals, window, depth, second, live))
            if by_pid.get(totals.process.pid) is totals:
                walk(totals.process.pid, depth + 1)

    walk(None, 0)
    for totals in ordered:  # anything a cycle hid
        if totals.process.id not in seen:
            rows.append(_process_row(totals, window, 0, second, live))
    return sort_processes(rows, window.process_sort)


def sort_processes(rows: list[ProcessRow], key: str) -> list[ProcessRow]:
    """The tree by parent (``tree``), or a flat list by ``key``, the largest first."""
    if key == "tree":
        return rows
    flat = [replace(row, depth=0) for row in rows]
    if key == "pid":
        return sorted(flat, key=lambda r: (r.pid, r.id))
    if key == "command":
        return sorted(flat, key=lambda r: (r.command, r.id))
    if key == "rate":
        return sorted(flat, key=lambda r: (-(r.rate or 0), -r.events, r.id))
    return sorted(flat, key=lambda r: (-r.events, r.id))


def _process_row(
    totals: ProcessTotals, window: Window, depth: int, second: int, live: bool
) -> ProcessRow:
    process = totals.process
    span = range(second - SPARK_SECONDS, second)
    if window.selection.query.empty:
        events, seconds = totals.total, totals.seconds
    else:
        matches = [window.match(e) for e in totals.stats.values()]
        events = sum(m.count for m in matches)
        counters = [window.seconds(m) for m in matches if m.count]
        seconds = Counter({s: sum(c.get(s, 0) for c in counters) for s in span})
    spark = tuple(seconds.get(s, 0) for s in span)
    running = process.status == "running"
    facts = totals.facts if running else {}  # an ended process has no CPU or memory
    return ProcessRow(
        id=process.id,
        pid=process.pid,
        ppid=process.ppid,
        depth=depth,
        command=process.command,
        state=ending_text(process.status, process.exit_code),
        events=events,
        rate=float(seconds.get(second - 1, 0)) if running and live else None,
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
    session: Session,
    matches: list[EntryMatch],
    window: Window,
    view: View,
    second: int,
    live: bool,
) -> tuple[EventRow, ...]:
    grouped: dict[str, list[EntryMatch]] = {}
    for match in matches:
        if match.count or match.unchecked:
            grouped.setdefault(match.entry.name, []).append(match)
    query = view.filter
    rows = []
    for name, found in grouped.items():
        info = session.catalog.info(name)
        count = sum(m.count for m in found)
        preview_args, last_time = _latest(session, found, query)
        risks = [m.risk for m in found if m.count]
        risk = max(risks, key=risk_rank) if risks else info.risk
        names = session.catalog.arg_names(name, len(preview_args))
        preview = ", ".join(f"{n}={values.display(v, 60)}" for n, v in zip(names, preview_args))
        rate = float(sum(window.seconds(m).get(second - 1, 0) for m in found)) if live else None
        rows.append(
            EventRow(
                name,
                info.category,
                risk,
                count,
                rate,
                sum(1 for m in found if m.count),
                preview,
                last_time,
                sum(m.unchecked for m in found),
            )
        )
    return tuple(sort_rows(rows, view.sort, session))


def _latest(session: Session, found: list[EntryMatch], query: Filter) -> tuple[tuple, float]:
    """The arguments and time of the latest selected event, from the kept occurrences
    (or the latest event at all, where the whole entry is selected)."""
    best: tuple[tuple, float] = ((), 0.0)
    for match in found:
        entry = match.entry
        if match.decided is True:
            if entry.last_time >= best[1]:
                best = (entry.last_args, entry.last_time)
            continue
        process = entry.process
        for seq, when, thread, name, args, _stack in reversed(entry.raw):
            if when < best[1]:
                break
            subject = Subject(
                name,
                args,
                process,
                when,
                thread,
                session.lineage,
                seq=seq,
                alerts=session.alerts.lookup,
            )
            if query.holds(subject):
                best = (tuple(args), when)
                break
    return best


def sort_rows(rows: list[EventRow], key: str, session: Session) -> list[EventRow]:
    if key == "name":
        return sorted(rows, key=lambda r: r.name)
    if key == "rate":
        return sorted(rows, key=lambda r: (-(r.rate or 0), -r.count, r.name))
    if key == "risk":
        return sorted(rows, key=lambda r: (-risk_rank(r.risk), -r.count, r.name))
    if key == "recent":
        return sorted(rows, key=lambda r: (-r.last_time, r.name))
    return sorted(rows, key=lambda r: (-r.count, r.name))
