"""The latest events as they came, across the processes in view: a live tail, like
``strace -f`` (of the occurrences kept)."""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from auditmon.model.session import Occurrence, Session
from auditmon.views.detail import kept_occurrences

if TYPE_CHECKING:
    from auditmon.views.snapshot import View


def tail(session: Session, view: View, limit: int = 500) -> tuple[Occurrence, ...]:
    """The ``limit`` latest kept occurrences the view selects, oldest first."""
    entries = [e for t in session.scoped(view.process_id) for e in t.stats.values()]
    found = kept_occurrences(session, entries, view.filter)
    latest = heapq.nlargest(limit, found, key=lambda o: (o.time, o.process_id, o.seq))
    return tuple(reversed(latest))
