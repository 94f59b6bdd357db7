"""The alerts the UI shows, as immutable data built with each snapshot (see
``auditmon.model.alerts`` for what they count)."""

from __future__ import annotations

from dataclasses import dataclass

from auditmon.model.alerts import AlertGroup
from auditmon.model.session import Session


@dataclass(frozen=True)
class AlertsView:
    """``active``: rules are loaded (or a recording's alerts replayed), so no alert
    means none fired; ``counts``: (priority, matches) most severe first, for the status
    line; ``groups``: one per rule, most severe first (count, suppressed, first and
    last time, processes, the triggering occurrences and the alerts shown)."""

    active: bool = False
    total: int = 0
    counts: tuple[tuple[str, int], ...] = ()
    groups: tuple[AlertGroup, ...] = ()


def alerts_view(session: Session) -> AlertsView:
    book = session.alerts
    if not book.active and not book.total:
        return AlertsView()
    return AlertsView(True, book.total, book.counts(), tuple(book.groups()))
