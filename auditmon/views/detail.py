"""Drill-down data: one event's argument values and occurrences, and a heatmap cell's
occurrences, within a view."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auditmon.catalog import risk_for
from auditmon.model import values
from auditmon.model.filtering import Filter
from auditmon.model.session import EventStats, Occurrence, Session

if TYPE_CHECKING:
    from auditmon.views.snapshot import View


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


def matching_occurrences(
    session: Session, stats: list[EventStats], flt: Filter
) -> list[Occurrence]:
    """The kept occurrences of ``stats`` whose arguments meet the filter's conditions."""
    found = []
    for entry in stats:
        names = session.catalog.arg_names(entry.name, max(len(entry.last_args), 1))
        for occurrence in entry.recent:
            shown = [values.display(a) for a in occurrence.args]
            if all(c.holds(names, shown) for c in flt.args):
                found.append(occurrence)
    return found


def highest_risk(name: str, static: str, entries: list[EventStats]) -> str:
    """The static risk, raised by what kept occurrences show (``open`` for writing)."""
    if name != "open":
        return static
    for entry in entries:
        for occurrence in entry.recent:
            if risk_for(name, occurrence.args) == "warning":
                return "warning"
    return static


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
        occurrences = matching_occurrences(session, entries, view.filter)
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


def cell_occurrences(session: Session, category: str, second: int, view: View) -> list[Occurrence]:
    """Occurrences kept of ``category`` within one second, newest first."""
    found = []
    for totals in session.scoped(view.process_id):
        for name, entry in totals.stats.items():
            if session.category_of(name) != category:
                continue
            if not view.filter.matches_event(name, session.catalog):
                continue
            found.extend(o for o in entry.recent if int(o.time) == second)
    return sorted(found, key=lambda o: (o.time, o.seq), reverse=True)
