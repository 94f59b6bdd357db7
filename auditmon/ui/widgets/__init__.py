"""The main screen's panels.  Each one takes a Snapshot and redraws; none reads the model."""

from auditmon.ui.widgets.heatmap import Heatmap
from auditmon.ui.widgets.status import StatusLine
from auditmon.ui.widgets.tables import ALL, EventsTable, KeptCursorTable, ProcessTable

__all__ = ["ALL", "EventsTable", "Heatmap", "KeptCursorTable", "ProcessTable", "StatusLine"]
