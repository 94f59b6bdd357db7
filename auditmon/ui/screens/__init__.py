"""The drill-down screens: an event's arguments, a heatmap cell, one occurrence, help."""

from auditmon.ui.screens.cell import CellScreen
from auditmon.ui.screens.confirm import ConfirmQuit
from auditmon.ui.screens.event import EventScreen
from auditmon.ui.screens.help import HelpScreen
from auditmon.ui.screens.occurrence import OccurrenceScreen
from auditmon.ui.screens.occurrences import OccurrenceListScreen, OccurrenceTable

__all__ = [
    "CellScreen",
    "ConfirmQuit",
    "EventScreen",
    "HelpScreen",
    "OccurrenceListScreen",
    "OccurrenceScreen",
    "OccurrenceTable",
]
