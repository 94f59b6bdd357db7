"""The events of one category in one second (Enter on a heatmap cell)."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from auditmon.catalog import Catalog
from auditmon.monitor.requests import Answer, CellRequest
from auditmon.ui.messages import Ask
from auditmon.ui.presenters import plural
from auditmon.ui.screens.occurrences import OccurrenceListScreen, OccurrenceTable
from auditmon.ui.widgets.status import StatusLine
from auditmon.views.snapshot import View


class CellScreen(OccurrenceListScreen):
    """The events of one category in one second (Enter on a heatmap cell)."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, category: str, second: int, view: View, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.category, self.second, self.view = category, second, view

    def compose(self) -> ComposeResult:
        yield Static(id="cell-title")
        yield OccurrenceTable(id="occurrences")
        yield self.search_box()
        yield StatusLine(classes="status")
        yield Footer()

    def on_mount(self) -> None:
        self.post_message(Ask(CellRequest(self.category, self.second, self.view), self))

    def answered(self, answer: Answer) -> None:
        if answer.error is not None or not self.is_mounted:
            return
        cell = answer.value
        title = Text()
        title.append(self.catalog.category(self.category).title, style="bold")
        title.append(f" at {time.strftime('%H:%M:%S', time.localtime(self.second))}: ")
        title.append(plural(cell.count, "event"))
        if len(cell.occurrences) < cell.count:
            title.append(f", {len(cell.occurrences):,} of them kept", style="dim")
        self.query_one("#cell-title", Static).update(title)
        table = self.query_one(OccurrenceTable)
        table.show(cell.occurrences, self.catalog)
        table.focus()
