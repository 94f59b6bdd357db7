"""The drill-down screens: an event's arguments, a heatmap cell, one occurrence, help."""

from auditmon.ui.screens.alerts import AlertsScreen
from auditmon.ui.screens.cell import CellScreen
from auditmon.ui.screens.confirm import ConfirmQuit
from auditmon.ui.screens.event import EventScreen
from auditmon.ui.screens.help import HelpScreen
from auditmon.ui.screens.inventory import InventoryScreen
from auditmon.ui.screens.main import MainScreen
from auditmon.ui.screens.occurrence import OccurrenceScreen
from auditmon.ui.screens.occurrences import OccurrenceListScreen, OccurrenceTable
from auditmon.ui.screens.process import ProcessScreen
from auditmon.ui.screens.tail import TailScreen

__all__ = [
    "AlertsScreen",
    "InventoryScreen",
    "CellScreen",
    "ConfirmQuit",
    "EventScreen",
    "HelpScreen",
    "MainScreen",
    "OccurrenceListScreen",
    "OccurrenceScreen",
    "OccurrenceTable",
    "ProcessScreen",
    "TailScreen",
]
