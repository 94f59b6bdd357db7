"""The main screen's tables (processes, events) and the table they build on, which keeps
its cursor on the same row as rows come and go."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from auditmon.catalog import Catalog
from auditmon.ui import presenters
from auditmon.views.snapshot import Snapshot

ALL = "all"


class KeptCursorTable(DataTable):
    """A DataTable refilled from snapshots that keeps its cursor on the same row key."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    _shown_cells: dict[str, tuple] | None = None  # row key -> cells, in the table's order

    def refill(self, rows: list[tuple[str, tuple]]) -> None:
        """Replace the rows; the cursor stays put and no highlight message is sent.
        The same rows in the same order only have their changed cells replaced: clearing
        and refilling a table is much of what a redraw would cost."""
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
            if current is not None:
                try:
                    self.move_cursor(row=self.get_row_index(current), animate=False, scroll=False)
                except Exception:
                    pass
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


class ProcessTable(KeptCursorTable):
    """Every reporting process as a tree by parent, with an 'all processes' row on top."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for label, width in (
            ("PID", 6),
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
        ):
            self.add_column(label, width=width, key=label)

    def show(self, snapshot: Snapshot) -> None:
        rates = [r.rate for r in snapshot.processes if r.rate is not None]
        total_rate = sum(rates) if rates else None
        rows: list[tuple[str, tuple]] = [
            (
                ALL,
                (
                    "",
                    Text("all processes", style="bold"),
                    presenters.number(sum(r.events for r in snapshot.processes)),
                    presenters.number(total_rate),
                    _drops(sum(r.dropped for r in snapshot.processes)),
                    f"{snapshot.live_processes} running",
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
                        str(row.pid),
                        Text(presenters.process_label(row, 60)),
                        presenters.number(row.events),
                        presenters.number(row.rate),
                        _drops(row.dropped),
                        row.state,
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


def _drops(count: int) -> Text:
    return Text(f"{count:,}", style="bold white on red") if count else Text("0", style="dim")


class EventsTable(KeptCursorTable):
    """Events in scope: name, category, risk, count, rate, processes, latest arguments."""

    def __init__(self, catalog: Catalog, **kwargs) -> None:
        super().__init__(**kwargs)
        self.catalog = catalog

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

    def show(self, snapshot: Snapshot) -> None:
        rows = []
        for row in snapshot.events:
            category = self.catalog.category(row.category)
            rows.append(
                (
                    row.name,
                    (
                        Text(row.name),
                        Text(category.title, style=category.color),
                        presenters.risk_text(row.risk),
                        presenters.number(row.count),
                        presenters.number(row.rate),
                        str(row.processes),
                        Text(row.preview, no_wrap=True, overflow="ellipsis"),
                    ),
                )
            )
        self.refill(rows)
