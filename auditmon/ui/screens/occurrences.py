"""Lists of occurrences: the table, and the screens built on it (search with ctrl+f,
the next warning with w, Enter for one occurrence whole)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.widgets import DataTable, Input

from auditmon.catalog import Catalog, risk_for
from auditmon.model import decode
from auditmon.model.session import Occurrence
from auditmon.monitor.requests import Answer
from auditmon.ui.presenters import clock_text
from auditmon.ui.screens.base import MonitorScreen
from auditmon.ui.screens.occurrence import OccurrenceScreen
from auditmon.ui.widgets.tables import KeptCursorTable


def arguments_text(occurrence: Occurrence, catalog: Catalog, limit: int = 80) -> str:
    """``name=value, …`` in the catalog's names, values in their readable form."""
    names = catalog.arg_names(occurrence.event, len(occurrence.args))
    return ", ".join(
        f"{n}={decode.shown(occurrence.event, n, v, limit)}" for n, v in zip(names, occurrence.args)
    )


class OccurrenceTable(KeptCursorTable):
    """Occurrences (time, pid, thread, named arguments); Enter shows one whole."""

    BINDINGS = [Binding("w", "next_warning", "Next warning")]

    occurrences: dict[str, Occurrence] = {}

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for label, width in (
            ("time", 12),
            ("pid", 7),
            ("thread", 15),
            ("event", 22),
            ("arguments", 100),
        ):
            self.add_column(label, width=width, key=label)

    def show(
        self, occurrences: tuple[Occurrence, ...] | list[Occurrence], catalog: Catalog
    ) -> None:
        self.occurrences = {f"{o.process_id}:{o.seq}": o for o in occurrences}
        rows = []
        for o in occurrences:
            rows.append(
                (
                    f"{o.process_id}:{o.seq}",
                    (
                        clock_text(o.time),
                        str(o.pid),
                        o.thread_name or str(o.thread),
                        o.event,
                        Text(arguments_text(o, catalog), no_wrap=True, overflow="ellipsis"),
                    ),
                )
            )
        self.refill(rows)

    def action_next_warning(self) -> None:
        """Move to the next occurrence whose risk is warning (an open for writing…)."""
        keys = self.row_keys()
        start = self.cursor_row
        for step in range(1, len(keys) + 1):
            row = (start + step) % len(keys)
            o = self.occurrences[keys[row]]
            if risk_for(o.event, o.args) == "warning":
                self.move_cursor(row=row)
                return
        self.notify("no occurrence listed is a warning", timeout=3)


class OccurrenceListScreen(MonitorScreen):
    """A screen with an OccurrenceTable: Enter on a row shows that occurrence whole;
    ctrl+f searches the rows' text (enter: the next match; escape: done)."""

    BINDINGS = [
        Binding("ctrl+f", "search", "Search"),
        Binding("n", "search_next", "Next match", show=False),
    ]

    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.catalog = catalog
        self.searching = ""

    def search_box(self) -> Input:
        box = Input(placeholder="search the occurrences (enter: next match)", id="search")
        box.display = False
        return box

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        table = self.query_one(OccurrenceTable)
        if message.data_table is not table:
            return
        occurrence = table.occurrences.get(message.row_key.value)
        if occurrence is not None:
            self.app.push_screen(OccurrenceScreen(occurrence, self.catalog))

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.value = self.searching
        box.focus()

    @on(Input.Submitted, "#search")
    def search(self, message: Input.Submitted) -> None:
        self.searching = message.value
        self.action_search_next()

    def action_search_next(self) -> None:
        if not self.searching:
            return
        if not self.query_one(OccurrenceTable).find(self.searching):
            self.notify(f"{self.searching!r} is in no occurrence listed", timeout=3, markup=False)

    def on_key(self, event) -> None:
        box = self.query_one("#search", Input)
        if event.key == "escape" and box.has_focus:
            box.display = False
            self.query_one(OccurrenceTable).focus()
            event.stop()

    def answered(self, answer: Answer) -> None:
        """The monitor's answer to what this screen asked (see ``Ask``)."""
