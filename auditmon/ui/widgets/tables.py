"""The main screen's tables (processes, events) and the table they build on, which keeps
its cursor on the same row as rows come and go."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from auditmon.catalog import Catalog
from auditmon.ui import presenters
from auditmon.views.palette import PRIORITY_STYLE
from auditmon.views.snapshot import Snapshot

ALL = "all"


class KeptCursorTable(DataTable):
    """A DataTable refilled from snapshots that keeps its cursor on the same row key."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
    ]

    _shown_cells: dict[str, tuple] | None = None  # row key -> cells, in the table's order

    def refill(self, rows: list[tuple[str, tuple]]) -> None:
        """Replace the rows; the cursor stays on its row's key (wherever that row went)
        and no highlight message is sent.  The same rows in the same order only have
        their changed cells replaced: clearing and refilling a table is much of what a
        redraw would cost."""
        shown = self._shown_cells
        if shown is not None and [key for key, _ in rows] == list(shown):
            self._update_changed(rows, shown)
            return
        self._shown_cells = dict(rows)
        current = self.current_key()
        scroll = self.scroll_y
        with self.prevent(DataTable.RowHighlighted):
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
            if current is not None and current in self._shown_cells:
                self.move_cursor(row=self.get_row_index(current), animate=False, scroll=False)
        self.scroll_y = scroll

    def _update_changed(self, rows: list[tuple[str, tuple]], shown: dict[str, tuple]) -> None:
        columns = list(self.columns)
        for key, cells in rows:
            before = shown[key]
            for index, cell in enumerate(cells):
                if before[index] != cell:
                    self.update_cell(key, columns[index], cell)
            shown[key] = cells

    def current_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def row_keys(self) -> list[str]:
        return list(self._shown_cells or ())

    def action_first(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)

    def find(self, text: str, forward: bool = True) -> bool:
        """Move to the next row (after the cursor) whose text contains ``text``."""
        if not self.row_count or not text:
            return False
        folded = text.casefold()
        start = self.cursor_row
        for step in range(1, self.row_count + 1):
            row = (start + step if forward else start - step) % self.row_count
            cells = self.get_row_at(row)
            if any(folded in str(cell).casefold() for cell in cells):
                self.move_cursor(row=row)
                return True
        return False


#: The process table's columns: (label, width); the command takes what room is left.
PROCESS_COLUMNS = (
    ("PID", 7),
    ("command", 20),
    ("events", 7),
    ("ev/s", 5),
    ("drops", 5),
    ("state", 11),
    ("last minute", 20),
    ("CPU%", 5),
    ("RSS", 7),
    ("thr", 4),
    ("files", 5),
    ("agent", 6),
)
#: Process table columns that sort it (``o`` cycles; a click on the heading chooses).
PROCESS_SORTS = {"PID": "pid", "command": "command", "events": "events", "ev/s": "rate"}


class ProcessTable(KeptCursorTable):
    """Every reporting process as a tree by parent, with an 'all processes' row on top."""

    @dataclass
    class SortChosen(Message):
        """A column heading was clicked: sort the processes by it."""

        sort: str

    command_width = 20

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self._add_columns()

    def _add_columns(self) -> None:
        for label, width in PROCESS_COLUMNS:
            self.add_column(
                label, width=self.command_width if label == "command" else width, key=label
            )

    def fit_command(self, total: int) -> bool:
        """Give the command column what the panel's ``total`` width leaves beside the
        columns before the sparkline (the rest scroll): wider terminals show more of
        each command line.  True when the columns changed (the rows want refilling)."""
        leading = sum(w + 2 for label, w in PROCESS_COLUMNS[:6] if label != "command")
        width = max(20, min(100, total - 4 - leading - 2))
        if width == self.command_width:
            return False
        self.command_width = width
        self.clear(columns=True)
        self._shown_cells = None
        self._add_columns()
        return True

    def on_data_table_header_selected(self, message: DataTable.HeaderSelected) -> None:
        sort = PROCESS_SORTS.get(str(message.column_key.value))
        if sort is not None:
            message.stop()
            self.post_message(self.SortChosen(sort))

    def show(self, snapshot: Snapshot) -> None:
        width = self.command_width
        running = snapshot.live_processes
        ended = len(snapshot.processes) - running
        state = f"{running} running" if running else "all ended" if ended else "none yet"
        rates = [r.rate for r in snapshot.processes if r.rate is not None]
        rows: list[tuple[str, tuple]] = [
            (
                ALL,
                (
                    "",
                    Text("all processes", style="bold"),
                    presenters.number(sum(r.events for r in snapshot.processes)),
                    presenters.number(sum(rates) if rates else None),
                    _drops(sum(r.dropped for r in snapshot.processes)),
                    state,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ),
            )
        ]
        for row in snapshot.processes:
            rows.append(
                (
                    str(row.id),
                    (
                        str(row.pid) if row.pid else "?",
                        _command(row, width),
                        presenters.number(row.events),
                        presenters.number(row.rate),
                        _drops(row.dropped),
                        Text(row.state, style="yellow")
                        if row.state == "not monitored"
                        else row.state,
                        presenters.sparkline(row.spark, 20),
                        presenters.number(row.cpu),
                        presenters.human_bytes(row.rss),
                        presenters.number(row.threads),
                        presenters.number(row.open_files),
                        row.agent,
                    ),
                )
            )
        self.refill(rows)


def _command(row, width: int) -> Text:
    """The command, marked where the rules alerted on the process (most severe)."""
    if row.alert is None:
        return Text(presenters.process_label(row, width))
    text = Text("▲ ", style=PRIORITY_STYLE.get(row.alert, ""))
    text.append(presenters.process_label(row, width - 2))
    return text


def _drops(count: int) -> Text:
    return Text(f"{count:,}", style="bold white on red") if count else Text("0", style="dim")


#: Events table columns that sort it (``s`` cycles; a click on the heading chooses).
EVENT_SORTS = {"event": "name", "risk": "risk", "count": "count", "ev/s": "rate"}


class EventsTable(KeptCursorTable):
    """Events in scope: name, category, risk, count, rate, processes, latest arguments."""

    BINDINGS = [Binding("w", "next_warning", "Next warning", show=False)]

    @dataclass
    class SortChosen(Message):
        """A column heading was clicked: sort the events by it."""

        sort: str

    def __init__(self, catalog: Catalog, **kwargs) -> None:
        super().__init__(**kwargs)
        self.catalog = catalog
        self.risks: dict[str, str] = {}

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for label, width in (
            ("event", 26),
            ("category", 13),
            ("risk", 7),
            ("count", 9),
            ("ev/s", 7),
            ("procs", 5),
            ("latest arguments", 80),
        ):
            self.add_column(label, width=width, key=label)

    def on_data_table_header_selected(self, message: DataTable.HeaderSelected) -> None:
        sort = EVENT_SORTS.get(str(message.column_key.value))
        if sort is not None:
            message.stop()
            self.post_message(self.SortChosen(sort))

    def action_next_warning(self) -> None:
        """Move to the next event (below the cursor, then from the top) whose risk is
        warning."""
        keys = self.row_keys()
        if not keys:
            return
        start = self.cursor_row
        for step in range(1, len(keys) + 1):
            row = (start + step) % len(keys)
            if self.risks.get(keys[row]) == "warning":
                self.move_cursor(row=row)
                return
        self.notify("no event in view is a warning", timeout=3)

    def show(self, snapshot: Snapshot) -> None:
        rows = []
        self.risks = {row.name: row.risk for row in snapshot.events}
        for row in snapshot.events:
            category = self.catalog.category(row.category)
            count = presenters.number(row.count)
            if row.unchecked:
                count = f"{count}+?"
            rows.append(
                (
                    row.name,
                    (
                        Text(row.name),
                        Text(category.title, style=category.color),
                        presenters.risk_text(row.risk),
                        count,
                        presenters.number(row.rate),
                        str(row.processes),
                        Text(row.preview, no_wrap=True, overflow="ellipsis"),
                    ),
                )
            )
        self.refill(rows)
