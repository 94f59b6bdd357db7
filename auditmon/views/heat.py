"""The category heatmap: counts per category and second, and their shades."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditmon.model.selection import EntryMatch
from auditmon.model.session import Session

if TYPE_CHECKING:
    from auditmon.views.snapshot import View, Window


@dataclass(frozen=True)
class Heatmap:
    """Counts per category (rows) and second (columns, oldest first)."""

    categories: tuple[str, ...]
    start: int
    cells: tuple[tuple[int, ...], ...]
    totals: tuple[int, ...]
    peak: int


def heatmap(
    session: Session, matches: list[EntryMatch], view: View, second: int, window: Window
) -> Heatmap:
    """The heatmap of the selected events, ``view.heat_columns`` seconds to ``second``."""
    columns = max(1, view.heat_columns)
    start = second - columns + 1
    categories = [c.name for c in session.catalog.categories()]
    per_category: dict[str, Counter[int]] = {c: Counter() for c in categories}
    totals: Counter[str] = Counter()
    for match in matches:
        count = match.count
        if not count:
            continue
        category = session.category_of(match.entry.name)
        totals[category] += count
        bucket = per_category[category]
        for s, n in window.seconds(match).items():
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
