"""What the UI asks the monitor for, and the answers it gets back as messages.

Each request is answered once, off the UI thread, by an ``Answer`` delivered like a
snapshot; ``id`` lets the UI give it to whoever asked.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from auditmon.views.snapshot import View

_ids = itertools.count(1)


def _next_id() -> int:
    return next(_ids)


@dataclass(frozen=True)
class DetailRequest:
    """One event's argument values (the ``top`` most frequent of each) and occurrences
    within a view."""

    name: str
    view: View
    top: int = 8
    id: int = field(default_factory=_next_id)


@dataclass(frozen=True)
class CellRequest:
    """The occurrences kept of one category within one second."""

    category: str
    second: int
    view: View
    id: int = field(default_factory=_next_id)


@dataclass(frozen=True)
class ExportRequest:
    """Write what a view shows to ``path`` (JSON Lines)."""

    path: Path
    view: View
    id: int = field(default_factory=_next_id)


@dataclass(frozen=True)
class ProcessRequest:
    """One process, whole (``auditmon.views.process``)."""

    process_id: int
    id: int = field(default_factory=_next_id)


@dataclass(frozen=True)
class TailRequest:
    """The latest kept events the view selects, as they came."""

    view: View
    limit: int = 500
    id: int = field(default_factory=_next_id)


@dataclass(frozen=True)
class InventoryRequest:
    """What the view's scope touched, whole (``auditmon.report``'s inventory)."""

    view: View
    id: int = field(default_factory=_next_id)


Request = Union[
    DetailRequest, CellRequest, ExportRequest, ProcessRequest, TailRequest, InventoryRequest
]


@dataclass(frozen=True)
class Answer:
    """The answer to ``request``: ``value``, or ``error`` saying why there is none."""

    request: Request
    value: Any = None
    error: str | None = None
