"""Lists of occurrences: the table, and the screens built on it."""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widgets import DataTable

from auditmon.catalog import Catalog
from auditmon.model import values
from auditmon.model.session import Occurrence
from auditmon.monitor.requests import Answer
from auditmon.ui.presenters import clock_text
from auditmon.ui.screens.occurrence import OccurrenceScreen
from auditmon.ui.widgets.tables import KeptCursorTable


class OccurrenceTable(KeptCursorTable):
    """Occurrences (time, pid, thread, named arguments); Enter shows one whole."""

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
            names = catalog.arg_names(o.event, len(o.args))
            shown = ", ".join(f"{n}={values.display(v, 80)}" for n, v in zip(names, o.args))
            rows.append(
                (
                    f"{o.process_id}:{o.seq}",
                    (
                        clock_text(o.time),
                        str(o.pid),
                        str(o.thread),
                        o.event,
                        Text(shown, no_wrap=True, overflow="ellipsis"),
                    ),
                )
            )
        self.refill(rows)


class OccurrenceListScreen(Screen):
    """A screen with an OccurrenceTable: Enter on a row shows that occurrence whole."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.catalog = catalog

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        occurrence = self.query_one(OccurrenceTable).occurrences.get(message.row_key.value)
        if occurrence is not None:
            self.app.push_screen(OccurrenceScreen(occurrence, self.catalog))

    def answered(self, answer: Answer) -> None:
        """The monitor's answer to what this screen asked (see ``Ask``)."""
