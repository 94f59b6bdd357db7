"""Every distinct argument list of an event, counted: what makes answers under a filter
exact for the whole session, not just for the occurrences kept for drill-down.

Each (event, process) has an ``ArgIndex``: how many times each distinct argument list
was raised, and how many times in each second of the recent history.  A filter on
arguments is decided once per distinct list, and its counts are sums of these.

Memory is bounded by a budget of distinct lists shared by the whole session.  Past it,
an event whose list is new is still counted (its total and its second, in
``overflow``) but its arguments are not kept: a filter on arguments cannot check it, and
the UI says how many events that leaves unchecked.  Nothing is dropped silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

#: Distinct argument lists kept for the whole session (the index's memory bound).
DISTINCT_LIMIT = 200_000


class IndexBudget:
    """How many distinct argument lists the session's indexes may still take."""

    def __init__(self, limit: int = DISTINCT_LIMIT) -> None:
        self.limit = limit
        self.used = 0

    @property
    def spent(self) -> bool:
        return self.used >= self.limit


def freeze(value: Any) -> Any:
    """A hashable stand-in for an argument list holding lists or dicts (decoded JSON,
    or a dict argument): lists become tuples, dicts tagged tuples of their items."""
    t = type(value)
    if t is list or t is tuple:
        return tuple(freeze(v) for v in value)
    if t is dict:
        return ("$dict", tuple((freeze(k), freeze(v)) for k, v in value.items()))
    return value


class ArgIndex:
    """The distinct argument lists of one event in one process (see the module)."""

    __slots__ = ("counts", "seconds", "samples", "overflow", "overflow_seconds", "budget")

    def __init__(self, budget: IndexBudget) -> None:
        self.counts: Counter[Any] = Counter()  # key -> events with that list
        self.seconds: Counter[tuple[Any, int]] = Counter()  # (key, second) -> events
        self.samples: dict[Any, Any] = {}  # frozen key -> the list as raised, where they differ
        self.overflow = 0  # events past the budget, their lists not kept
        self.overflow_seconds: Counter[int] = Counter()
        self.budget = budget

    def add(self, lists: list[Any], seconds: list[int]) -> None:
        """Count a batch: each event's argument list and second, in order."""
        if self.budget.spent:
            self._add_past_budget(lists, seconds)
            return
        counts = self.counts
        before = len(counts)
        try:
            batch = Counter(lists)  # raises before anything is counted
        except TypeError:  # lists or dicts inside: count them by a frozen key
            lists = self._keys(lists)
            batch = Counter(lists)
        counts.update(batch)
        self.seconds.update(zip(lists, seconds))
        self.budget.used += len(counts) - before

    def _keys(self, lists: list[Any]) -> list[Any]:
        keys = []
        samples = self.samples
        for value in lists:
            try:
                hash(value)
                keys.append(value)
            except TypeError:
                key = freeze(value)
                if key not in samples and _has_dict(value):
                    samples[key] = value
                keys.append(key)
        return keys

    def _add_past_budget(self, lists: list[Any], seconds: list[int]) -> None:
        counts, per_second = self.counts, self.seconds
        for value, second in zip(lists, seconds):
            try:
                known = value in counts
            except TypeError:
                value = freeze(value)
                known = value in counts
            if known:
                counts[value] += 1
                per_second[(value, second)] += 1
            else:
                self.overflow += 1
                self.overflow_seconds[second] += 1

    def args_of(self, key: Any) -> Any:
        """The argument list a key stands for, as it was raised."""
        return self.samples.get(key, key)

    def items(self) -> Iterator[tuple[Any, int]]:
        return iter(self.counts.items())

    def prune(self, horizon: int) -> None:
        """Forget the per-second counts before ``horizon`` (the totals stay)."""
        for pair in [p for p in self.seconds if p[1] < horizon]:
            del self.seconds[pair]
        for second in [s for s in self.overflow_seconds if s < horizon]:
            del self.overflow_seconds[second]


def _has_dict(value: Any) -> bool:
    if type(value) is dict:
        return True
    if type(value) in (list, tuple):
        return any(_has_dict(v) for v in value)
    return False
