"""What a query selects in a session: per (event, process), all of its events, none, or
those with the argument lists the query accepts, kept up to date as events arrive.

A query is first put to each (event, process) without its arguments; most filters are
decided there (an event glob, a category, a pid).  Where the answer depends on the
arguments (``path~/etc``, ``risk>=warning`` for ``open``), each distinct argument list
of the index is put to it once, when it first appears; counts are then sums over the
accepted lists, exact for the whole session.  Events past the index's bound have no
list to check: they are counted as ``unchecked``, never silently left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import islice
from typing import Any

from auditmon.catalog import RISK_LEVELS, risk_for
from auditmon.model.query import Query, Subject
from auditmon.model.query.fields import DYNAMIC_RISK
from auditmon.model.session import EventStats, Session

_RANK = {level: i for i, level in enumerate(RISK_LEVELS)}


class EntryMatch:
    """The part of one ``EventStats`` a query selects."""

    __slots__ = ("entry", "decided", "keys", "examined", "top_risk")

    def __init__(self, entry: EventStats) -> None:
        self.entry = entry
        self.decided: bool | None = None  # True: all of it, False: none, None: by ``keys``
        self.keys: list[Any] = []  # accepted argument lists (index keys)
        self.examined = 0  # how many of the index's keys were put to the query
        self.top_risk = -1  # highest risk rank among the accepted lists, where it varies

    @property
    def count(self) -> int:
        entry = self.entry
        if self.decided is True:
            return entry.count
        if self.decided is False:
            return 0
        counts = entry.index.counts
        return sum(counts[k] for k in self.keys)

    @property
    def unchecked(self) -> int:
        """Events whose arguments were past the index's bound, so not put to the query."""
        return self.entry.index.overflow if self.decided is None else 0

    def per_second(self, start: int) -> Counter[int]:
        """Selected events per second, from ``start`` on."""
        entry = self.entry
        if self.decided is True:
            return Counter({s: n for s, n in entry.seconds.items() if s >= start})
        found: Counter[int] = Counter()
        if self.decided is None and self.keys:
            accepted = set(self.keys)
            for (key, second), n in entry.index.seconds.items():
                if second >= start and key in accepted:
                    found[second] += n
        return found

    def argument_lists(self) -> Iterator[tuple[Any, int]]:
        """(argument list, events) for each selected distinct list."""
        index = self.entry.index
        if self.decided is True:
            for key, n in index.items():
                yield index.args_of(key), n
        elif self.decided is None:
            for key in self.keys:
                yield index.args_of(key), index.counts[key]

    @property
    def risk(self) -> str:
        """The highest risk of the selected events (per occurrence: ``open`` for writing
        is a warning); the catalog's where it does not depend on the arguments."""
        name = self.entry.name
        if name not in DYNAMIC_RISK:
            return risk_for(name, ())
        if self.decided is True:
            _examine_all_risks(self)
        if self.top_risk < 0:  # no argument list seen: all past the bound, or none
            return risk_for(name, ())
        return RISK_LEVELS[self.top_risk]


def _examine_all_risks(match: EntryMatch) -> None:
    """For a whole entry: the highest risk over every list seen so far (incrementally)."""
    index = match.entry.index
    name = match.entry.name
    for key in islice(index.counts, match.examined, None):
        rank = _RANK[risk_for(name, index.args_of(key))]
        if rank > match.top_risk:
            match.top_risk = rank
    match.examined = len(index.counts)


class Selection:
    """A query's selection in one session; call ``match`` for each entry in view."""

    def __init__(self, session: Session, query: Query) -> None:
        self.session = session
        self.query = query
        self._matches: dict[int, EntryMatch] = {}
        # A query on alerts judges argument lists again once a new alert came.
        self._alerts_seen = session.alerts.generation if "alerts" in query.needs else None

    def match(self, entry: EventStats) -> EntryMatch:
        if self._alerts_seen is not None and self._alerts_seen != self.session.alerts.generation:
            self._alerts_seen = self.session.alerts.generation
            self._matches.clear()
        key = id(entry)
        match = self._matches.get(key)
        if match is None or match.entry is not entry:
            match = self._matches[key] = EntryMatch(entry)
        query = self.query
        if query.empty:
            decided: bool | None = True
        else:
            whole = Subject(
                entry.name,
                None,
                entry.process,
                lineage=self.session.lineage,
                alerts=self.session.alerts.lookup,
            )
            decided = query.decide(whole)
        if decided != match.decided:
            match.decided = decided
            match.keys, match.examined, match.top_risk = [], 0, -1
        if decided is None:
            self._examine(match)
        return match

    def _examine(self, match: EntryMatch) -> None:
        entry = match.entry
        index = entry.index
        if match.examined >= len(index.counts):
            return
        query, name, process = self.query, entry.name, entry.process
        lineage = self.session.lineage
        alerts = self.session.alerts.lookup
        dynamic = name in DYNAMIC_RISK
        for key in islice(index.counts, match.examined, None):
            args = index.args_of(key)
            if query.decide(Subject(name, args, process, lineage=lineage, alerts=alerts)):
                match.keys.append(key)
                if dynamic:
                    rank = _RANK[risk_for(name, args)]
                    if rank > match.top_risk:
                        match.top_risk = rank
        match.examined = len(index.counts)


def selection_for(session: Session, query: Query) -> Selection:
    """The session's selection for ``query``, kept from one snapshot to the next."""
    cache: dict[str, Selection] = session.selections
    found = cache.get(query.text)
    if found is None:
        found = cache[query.text] = Selection(session, query)
        while len(cache) > 4:
            cache.pop(next(iter(cache)))
    return found
