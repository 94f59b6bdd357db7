"""The main screen's panels. Each one takes a Snapshot and redraws; none reads the model."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.dom import NoScreen
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import DataTable, Static

from auditmon.catalog import Catalog
from auditmon.snapshot import Snapshot
from auditmon.ui import presenters

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
        total_rate = sum(r.rate for r in snapshot.processes)
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


class Heatmap(Widget, can_focus=True):
    """Categories × seconds, colour by count on a log scale; a cell can be selected."""

    BINDINGS = [
        Binding("left,h", "move(0, -1)", "Earlier", show=False),
        Binding("right,l", "move(0, 1)", "Later", show=False),
        Binding("up,k", "move(-1, 0)", "Up", show=False),
        Binding("down,j", "move(1, 0)", "Down", show=False),
        Binding("enter", "choose", "Show cell"),
    ]

    cursor: reactive[tuple[int, int] | None] = reactive(None)
    """The selected (row, column), or None until the user moves into the map."""

    @dataclass
    class CellChosen(Message):
        """Enter on a cell: show that category's events in that second."""

        category: str
        second: int

    def __init__(self, catalog: Catalog, **kwargs) -> None:
        super().__init__(**kwargs)
        self.catalog = catalog
        self.snapshot: Snapshot | None = None

    LABEL = 14
    TOTAL = 10

    def columns_for(self, width: int) -> int:
        return max(5, width - self.LABEL - self.TOTAL - 2)

    def show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.redraw()

    def redraw(self) -> None:
        """Repaint; lay the screen out again only when the map's height changed."""
        height = self.height_in_lines()
        self.refresh(layout=height != self._laid_out_height)
        self._laid_out_height = height

    _laid_out_height = 0

    def height_in_lines(self) -> int:
        """What ``render`` gives: a row per category, the legend, the cursor's line."""
        if self.snapshot is None:
            return 1
        cursor_line = self.described_cell() is not None
        return len(self.snapshot.heatmap.categories) + 1 + cursor_line

    def described_cell(self) -> tuple[int, int] | None:
        """The selected cell, when it is shown and exists (a line below the map)."""
        if self.snapshot is None or self.cursor is None or not self.focused():
            return None
        row, column = self.cursor
        heat = self.snapshot.heatmap
        if row < len(heat.categories) and column < len(heat.cells[row]):
            return row, column
        return None

    def focused(self) -> bool:
        """The screen's focus, already moved when on_focus and on_blur run (``has_focus``
        may not be yet)."""
        try:
            return self.screen.focused is self
        except NoScreen:
            return False

    def render(self) -> Text:
        if self.snapshot is None:
            return Text("waiting for events…", style="dim")
        heat = self.snapshot.heatmap
        cursor = self.cursor if self.focused() else None
        lines = presenters.heatmap_lines(heat, self.catalog, self.LABEL, cursor)
        text = Text("\n").join(lines)
        text.append("\n")
        text.append_text(presenters.heat_legend(heat.peak))
        described = self.described_cell()
        if described is not None:
            row, column = described
            count = heat.cells[row][column]
            ago = len(heat.cells[row]) - 1 - column
            text.append(
                f"\n{self.catalog.category(heat.categories[row]).title}, {ago}s ago: "
                f"{count:,} events (enter: show them)",
                style="bold",
            )
        return text

    def on_focus(self) -> None:
        if self.cursor is None and self.snapshot is not None:
            columns = len(self.snapshot.heatmap.cells[0]) if self.snapshot.heatmap.cells else 1
            self.cursor = (0, columns - 1)
        self.redraw()

    def on_blur(self) -> None:
        self.redraw()

    def action_move(self, rows: int, columns: int) -> None:
        if self.snapshot is None or not self.snapshot.heatmap.cells:
            return
        heat = self.snapshot.heatmap
        row, column = self.cursor or (0, len(heat.cells[0]) - 1)
        row = min(max(0, row + rows), len(heat.categories) - 1)
        column = min(max(0, column + columns), len(heat.cells[0]) - 1)
        self.cursor = (row, column)
        self.redraw()

    def on_click(self, event) -> None:
        """A click selects a cell; a second click on it opens it."""
        if self.snapshot is None or not self.snapshot.heatmap.cells:
            return
        row, column = event.y, event.x - (self.LABEL + 1)
        heat = self.snapshot.heatmap
        if 0 <= row < len(heat.categories) and 0 <= column < len(heat.cells[0]):
            if self.cursor == (row, column):
                self.action_choose()
            self.cursor = (row, column)
            self.redraw()

    def action_choose(self) -> None:
        if self.snapshot is None or self.cursor is None:
            return
        heat = self.snapshot.heatmap
        row, column = self.cursor
        if row < len(heat.categories):
            self.post_message(self.CellChosen(heat.categories[row], heat.start + column))


class StatusLine(Static):
    """Connection state, totals, rate, drops (never hidden), pause, filter, and the limits."""

    _shown: Text | None = None

    def show(self, snapshot: Snapshot, state: str, paused: bool, problem: str | None) -> None:
        """Update the line when its text changed (it is always one line: no new layout)."""
        text = Text()
        text.append(f" {state} ", style="reverse")
        text.append(f"  {snapshot.total_events:,} events  {snapshot.rate:,.0f}/s  ")
        drops = snapshot.total_dropped
        text.append(f" {drops:,} dropped ", style="bold white on red" if drops else "")
        if paused:
            text.append("  PAUSED (ingest continues)", style="bold yellow")
        flt = snapshot.view.filter
        if not flt.empty:
            text.append(f"  filter: {flt.text}", style="bold cyan")
            if snapshot.approximate:
                text.append(" (argument terms: kept occurrences only)", style="dim")
        text.append(f" sort: {snapshot.view.sort}", style="dim")
        if problem:
            text.append(f"  {problem}", style="bold red")
        text.append("  · events before site runs are not seen", style="dim")
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)
