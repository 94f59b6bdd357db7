"""One event: its arguments' most frequent values and its recent occurrences."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Static

from auditmon.catalog import Catalog
from auditmon.monitor.requests import Answer, DetailRequest
from auditmon.ui.messages import Ask
from auditmon.ui.presenters import risk_text
from auditmon.ui.screens.occurrences import OccurrenceListScreen, OccurrenceTable
from auditmon.views.detail import EventDetail
from auditmon.views.snapshot import View


class EventScreen(OccurrenceListScreen):
    """One event: its arguments' most frequent values and its recent occurrences."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("tab", "focus_next", "Next panel", show=False),
    ]

    def __init__(self, name: str, view: View, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.event_name = name
        self.view = view
        self.detail: EventDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="event-title")
        with Horizontal(id="arguments"):
            pass
        yield Static("Recent occurrences (enter: everything about one)", classes="caption")
        yield OccurrenceTable(id="occurrences")
        yield Footer()

    def on_mount(self) -> None:
        self.post_message(Ask(DetailRequest(self.event_name, self.view), self))
        self.set_interval(1.0, self.refresh_detail)
        self.query_one(OccurrenceTable).focus()

    def refresh_detail(self) -> None:
        """Ask for the detail again (the answer comes as a message: ``answered``)."""
        self.post_message(Ask(DetailRequest(self.event_name, self.view), self, refresh=True))

    def answered(self, answer: Answer) -> None:
        if answer.error is not None or not self.is_mounted:
            return
        detail = answer.value
        self.detail = detail
        self.query_one("#event-title", Static).update(self.title_text(detail))
        arguments = self.query_one("#arguments", Horizontal)
        boxes = list(arguments.query(Static))
        if len(boxes) != len(detail.arguments):
            arguments.remove_children()
            boxes = [Static(classes="argument") for _ in detail.arguments]
            arguments.mount_all(boxes)
        for box, summary in zip(boxes, detail.arguments):
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(summary.name, style="bold underline")
            if summary.approximate:
                text.append(" (approx.)", style="dim")
            for shown, count in summary.top:
                text.append(f"\n{count:>7,}  ")
                text.append(shown)
            box.update(text)
        self.query_one(OccurrenceTable).show(detail.occurrences, self.catalog)

    def title_text(self, detail: EventDetail) -> Text:
        category = self.catalog.category(detail.category)
        text = Text()
        text.append(detail.name, style="bold")
        text.append(f"({', '.join(detail.arg_names)})  ")
        text.append(category.title, style=category.color)
        text.append("  risk ")
        text.append_text(risk_text(detail.risk))
        scope = "all processes" if self.view.process_id is None else "one process"
        text.append(f"  {detail.count:,} events in {scope}")
        if not self.view.filter.empty:
            text.append(f"  filter: {self.view.filter.text}", style="cyan")
        if detail.summary:
            text.append(f"\n{detail.summary}", style="dim")
        for link in detail.docs[:1]:
            text.append(f"  {link}", style="dim underline")
        return text
