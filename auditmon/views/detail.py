"""Drill-down data: one event's argument values and occurrences, and a heatmap cell's
occurrences, within a view.  Counts and value tables are exact for the whole session
(from the argument index); the occurrences listed are those still kept."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auditmon.catalog import risk_rank
from auditmon.model import decode, values
from auditmon.model.query import Query, Subject
from auditmon.model.selection import EntryMatch, selection_for
from auditmon.model.session import EventStats, Occurrence, Session

if TYPE_CHECKING:
    from auditmon.views.snapshot import View


#: How much of a value's text a value table carries (a longer one ends in "…").
VALUE_TEXT = 1000


#: How much of a value's text a value table carries (a longer one ends in "…").
VALUE_TEXT = 1000


@dataclass(frozen=True)
class ArgumentSummary:
    """One argument's most frequent values (display text, events), how many distinct
    values there are, and how many events had values past the index's bound."""

    name: str
    top: tuple[tuple[str, int], ...]
    distinct: int = 0
    unchecked: int = 0

    @property
    def approximate(self) -> bool:
        return self.unchecked > 0

    @property
    def more(self) -> int:
        """Distinct values beyond those in ``top``."""
        return max(0, self.distinct - len(self.top))


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
    unchecked: int = 0


def kept_occurrences(
    session: Session, entries: Iterable[EventStats], query: Query
) -> list[Occurrence]:
    """The kept occurrences of ``entries`` that the query selects, each judged whole."""
    found = []
    for entry in entries:
        for occurrence in entry.recent:
            if query.empty or query.holds(_subject(session, entry, occurrence)):
                found.append(occurrence)
    return found


def _subject(session: Session, entry: EventStats, occurrence: Occurrence) -> Subject:
    return Subject(
        occurrence.event,
        occurrence.args,
        entry.process,
        occurrence.time,
        occurrence.thread,
        session.lineage,
        seq=occurrence.seq,
        alerts=session.alerts.lookup,
    )


def event_detail(
    session: Session, name: str, view: View, top: int = 8, limit: int = 200
) -> EventDetail:
    """Argument value counts and recent occurrences of one event in ``view``."""
    info = session.catalog.info(name)
    selection = selection_for(session, view.filter)
    entries = [t.stats[name] for t in session.scoped(view.process_id) if name in t.stats]
    matches = [m for m in (selection.match(e) for e in entries) if m.count or m.unchecked]
    lists = [pair for m in matches for pair in m.argument_lists()]
    width = max((len(args) for args, _ in lists), default=0)
    width = max([width] + [len(m.entry.last_args) for m in matches if m.decided is True])
    arg_names = tuple(session.catalog.arg_names(name, width))
    unchecked = sum(m.unchecked if m.decided is None else m.entry.index.overflow for m in matches)
    arguments = tuple(
        _summary(name, arg, i, lists, top, unchecked) for i, arg in enumerate(arg_names)
    )
    occurrences = kept_occurrences(session, (m.entry for m in matches), view.filter)
    occurrences.sort(key=lambda o: (o.time, o.seq), reverse=True)
    risks = [m.risk for m in matches if m.count]
    return EventDetail(
        name,
        info.category,
        max(risks, key=risk_rank) if risks else info.risk,
        info.summary,
        info.docs,
        sum(m.count for m in matches),
        arg_names,
        arguments,
        tuple(occurrences[:limit]),
        sum(m.unchecked for m in matches),
    )


def _summary(
    event: str, arg: str, position: int, lists: list[tuple[Any, int]], top: int, unchecked: int
) -> ArgumentSummary:
    counts: Counter[Any] = Counter()
    samples: dict[Any, Any] = {}
    for args, n in lists:
        if position < len(args):
            value = args[position]
            key = values.key(value)
            counts[key] += n
            if key is not value:
                samples.setdefault(key, value)
    rows = tuple(
        (decode.shown(event, arg, samples.get(k, k), VALUE_TEXT), c)
        for k, c in counts.most_common(top)
    )
    return ArgumentSummary(arg, rows, len(counts), unchecked)


@dataclass(frozen=True)
class CellDetail:
    """A heatmap cell: the events the view selects of one category in one second
    (``count``, exact), and those of them still kept, newest first."""

    count: int
    occurrences: tuple[Occurrence, ...]


def cell_detail(session: Session, category: str, second: int, view: View) -> CellDetail:
    selection = selection_for(session, view.filter)
    matches: list[EntryMatch] = []
    for totals in session.scoped(view.process_id):
        for name, entry in totals.stats.items():
            if session.category_of(name) == category:
                matches.append(selection.match(entry))
    count = sum(m.per_second(second).get(second, 0) for m in matches if m.count)
    kept = [
        o
        for o in kept_occurrences(session, (m.entry for m in matches if m.count), view.filter)
        if int(o.time) == second
    ]
    kept.sort(key=lambda o: (o.time, o.seq), reverse=True)
    return CellDetail(count, tuple(kept))
