"""The latest events as they come, one line each, across the processes in view: a live
tail, like ``strace -f``."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from auditmon.catalog import Catalog
from auditmon.monitor.requests import Answer, TailRequest
from auditmon.ui.messages import Ask
from auditmon.ui.screens.occurrences import OccurrenceListScreen, OccurrenceTable
from auditmon.ui.widgets.status import StatusLine
from auditmon.views.snapshot import View


class TailScreen(OccurrenceListScreen):
    """Follows the newest event at the bottom while the cursor is on the last row; move
    up to stop following, End (or G) to follow again."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, view: View, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.view = view

    def compose(self) -> ComposeResult:
        yield Static(id="tail-title")
        yield OccurrenceTable(id="occurrences")
        yield self.search_box()
        yield StatusLine(classes="status")
        yield Footer()

    def on_mount(self) -> None:
        title = "Tail: the latest events as they come (kept occurrences"
        if not self.view.filter.empty:
            title += f"; filter: {self.view.filter.text}"
        self.query_one("#tail-title", Static).update(title + ")")
        self.ask(refresh=False)
        self.set_interval(0.5, self.ask)
        self.query_one(OccurrenceTable).focus()

    def ask(self, refresh: bool = True) -> None:
        self.post_message(Ask(TailRequest(self.view), self, refresh=refresh))

    def answered(self, answer: Answer) -> None:
        if answer.error is not None or not self.is_mounted:
            return
        table = self.query_one(OccurrenceTable)
        following = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        table.show(answer.value, self.catalog)
        if following and table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False)
