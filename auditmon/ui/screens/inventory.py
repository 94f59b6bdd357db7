"""What the scope touched, whole: files, connections, names, URLs, commands, modules,
code and native libraries (the inventory ``auditmon report`` prints), read back from
the session's recording when asked (``r`` asks again)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from auditmon.console.inventory_rows import TITLES, section_rows
from auditmon.monitor.requests import Answer, InventoryRequest
from auditmon.report.inventory import SECTIONS
from auditmon.ui.messages import Ask
from auditmon.ui.screens.base import MonitorScreen
from auditmon.ui.widgets.status import StatusLine
from auditmon.ui.widgets.tables import KeptCursorTable
from auditmon.views.snapshot import View


class InventoryTable(KeptCursorTable):
    """A heading row per section, then its items."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for label, width in (("what", 70), ("detail", 44), ("first event", 16), ("where", 40)):
            self.add_column(label, width=width, key=label)

    def show(self, inventory) -> None:
        rows = []
        for section in SECTIONS:
            items = getattr(inventory, section)
            if not items:
                continue
            rows.append(
                (f"# {section}", (Text(TITLES[section], style="bold underline"), "", "", ""))
            )
            for i, row in enumerate(section_rows(section, items)):
                rows.append(
                    (
                        f"{section}:{i}",
                        (
                            Text(row.what, no_wrap=True, overflow="ellipsis"),
                            Text(row.detail, no_wrap=True, overflow="ellipsis"),
                            row.first,
                            Text(row.source, no_wrap=True, overflow="ellipsis"),
                        ),
                    )
                )
        self.refill(rows)


class InventoryScreen(MonitorScreen):
    """Key ``i`` on the main screen, for the view's scope (one process, or all)."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "ask", "Again"),
    ]

    def __init__(self, view: View, scope: str) -> None:
        super().__init__()
        self.view = view
        self.scope = scope
        self.inventory = None

    def compose(self) -> ComposeResult:
        yield Static(id="inventory-title")
        yield InventoryTable(id="inventory")
        yield StatusLine(classes="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#inventory-title", Static).update(
            Text(f"What {self.scope} touched: reading the session back…", style="bold")
        )
        self.action_ask()
        self.query_one(InventoryTable).focus()

    def action_ask(self) -> None:
        self.post_message(Ask(InventoryRequest(self.view), self))

    def answered(self, answer: Answer) -> None:
        title = self.query_one("#inventory-title", Static)
        if answer.error is not None:
            title.update(Text(answer.error, style="bold red"))
            return
        self.inventory = answer.value
        counts = [
            f"{len(getattr(answer.value, s)):,} {TITLES[s].split(' ')[0].lower()}"
            for s in SECTIONS
            if getattr(answer.value, s)
        ]
        text = Text(f"What {self.scope} touched", style="bold")
        text.append(f"  {', '.join(counts) or 'nothing'}  (r: read it again)", style="dim")
        if answer.value.not_kept:
            text.append(f"  {answer.value.not_kept:,} past the bound, not listed", style="yellow")
        title.update(text)
        self.query_one(InventoryTable).show(answer.value)
