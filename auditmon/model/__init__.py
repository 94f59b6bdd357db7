"""The session model: pure aggregation of what ingest delivers (no UI, no I/O).

Importable without Textual, rich, sockets or selectors (a test checks): whatever feeds
it (live agents, a recording, a test) and whatever shows it build on it.
"""

from auditmon.model.process import Process
from auditmon.model.session import (
    HISTORY_SECONDS,
    EventStats,
    Occurrence,
    ProcessTotals,
    Session,
)

__all__ = [
    "HISTORY_SECONDS",
    "EventStats",
    "Occurrence",
    "Process",
    "ProcessTotals",
    "Session",
]
