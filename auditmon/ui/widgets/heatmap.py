"""The category heatmap panel: categories × seconds, a cell selectable by keyboard or mouse."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.dom import NoScreen
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from auditmon.catalog import Catalog
from auditmon.ui import presenters
from auditmon.views.snapshot import Snapshot


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
        """Repaint; lay the screen out again only when the map's height is not the one
        it has.  A layout asked for while one is under way (the screen's first, say)
        can be lost: look again once the screen is drawn, once."""
        resized = self.height_in_lines() != self.content_size.height
        self.refresh(layout=resized)
        if resized:
            self.call_after_refresh(self._check_height)

    def _check_height(self) -> None:
        if self.height_in_lines() != self.content_size.height:
            self.refresh(layout=True)

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
