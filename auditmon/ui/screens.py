"""Drill-down screens: an event's arguments, one occurrence, a heatmap cell, and help."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Static

from auditmon import record, values
from auditmon.model import Occurrence
from auditmon.snapshot import EventDetail, View
from auditmon.ui.presenters import risk_text
from auditmon.ui.widgets import KeptCursorTable

if TYPE_CHECKING:
    from auditmon.ui.app import AuditmonApp


def clock_text(when: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when)) + f".{int(when % 1 * 1000):03d}"


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

    def show(self, occurrences: tuple[Occurrence, ...] | list[Occurrence], catalog) -> None:
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

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        occurrence = self.query_one(OccurrenceTable).occurrences.get(message.row_key.value)
        if occurrence is not None:
            self.app.push_screen(OccurrenceScreen(occurrence))


class EventScreen(OccurrenceListScreen):
    """One event: its arguments' most frequent values and its recent occurrences."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("tab", "focus_next", "Next panel", show=False),
    ]

    def __init__(self, name: str, view: View) -> None:
        super().__init__()
        self.event_name = name
        self.view = view

    @property
    def auditmon(self) -> AuditmonApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static(id="event-title")
        with Horizontal(id="arguments"):
            pass
        yield Static("Recent occurrences (enter: everything about one)", classes="caption")
        yield OccurrenceTable(id="occurrences")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_detail()
        self.set_interval(1.0, self.refresh_detail)
        self.query_one(OccurrenceTable).focus()

    def refresh_detail(self) -> None:
        if self.auditmon.paused and self.is_mounted and getattr(self, "detail", None):
            return
        detail = self.auditmon.source.detail(self.event_name, self.view)
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
        self.query_one(OccurrenceTable).show(detail.occurrences, self.auditmon.catalog)

    def title_text(self, detail: EventDetail) -> Text:
        category = self.auditmon.catalog.category(detail.category)
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


class CellScreen(OccurrenceListScreen):
    """The events of one category in one second (Enter on a heatmap cell)."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, category: str, second: int, view: View) -> None:
        super().__init__()
        self.category, self.second, self.view = category, second, view

    def compose(self) -> ComposeResult:
        yield Static(id="cell-title")
        yield OccurrenceTable(id="occurrences")
        yield Footer()

    def on_mount(self) -> None:
        app: AuditmonApp = self.app  # type: ignore[assignment]
        found = app.source.cell(self.category, self.second, self.view)
        title = Text()
        title.append(app.catalog.category(self.category).title, style="bold")
        title.append(f" at {time.strftime('%H:%M:%S', time.localtime(self.second))}: ")
        title.append(f"{len(found):,} kept occurrences")
        self.query_one("#cell-title", Static).update(title)
        table = self.query_one(OccurrenceTable)
        table.show(found, app.catalog)
        table.focus()


class OccurrenceScreen(Screen):
    """Everything about one occurrence: full values, the stack, the raw record."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, occurrence: Occurrence) -> None:
        super().__init__()
        self.occurrence = occurrence

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="occurrence"):
            yield Static(id="occurrence-body")
        yield Footer()

    def on_mount(self) -> None:
        app: AuditmonApp = self.app  # type: ignore[assignment]
        o = self.occurrence
        names = app.catalog.arg_names(o.event, len(o.args))
        body = Text()
        body.append(o.event, style="bold")
        body.append(f"   pid {o.pid}  seq {o.seq}  thread {o.thread}  {clock_text(o.time)}\n\n")
        body.append("Arguments\n", style="bold underline")
        for name, value in zip(names, o.args):
            body.append(f"{name} = ", style="bold")
            body.append(values.display(value, 100_000) + "\n")
        body.append("\nPython stack", style="bold underline")
        if o.stack:
            body.append(" (innermost first)\n")
            for file, line, function in o.stack:
                body.append(f"  {file}:{line} in {function}\n")
        else:
            body.append("\n  not captured (run with --stack GLOB to capture it)\n", style="dim")
        body.append("\nRaw record\n", style="bold underline")
        raw = record.event_record(
            o.pid,
            [
                o.seq,
                o.time,
                o.thread,
                o.event,
                list(o.args),
                [list(f) for f in o.stack] if o.stack else None,
            ],
        )
        raw["args"] = record.to_json(raw["args"])
        body.append(json.dumps(raw, ensure_ascii=False, indent=2))
        self.query_one("#occurrence-body", Static).update(body)


HELP = [
    ("tab / shift+tab", "move between panels"),
    ("↑ ↓ ← →, j k h l", "move within a panel"),
    ("enter", "drill in: event → arguments → one occurrence; heatmap cell → its events"),
    ("escape", "back one level (the place is kept)"),
    ("/", "filter: event globs, cat:NAME, pid=N, risk>=LEVEL, ARG~TEXT, ARG=TEXT"),
    ("p", "pause or resume the view (ingest keeps going; nothing is lost)"),
    ("s", "change the sort of the events table"),
    ("e", "export the current view to JSON Lines"),
    ("ctrl+p", "command palette"),
    ("?", "this help"),
    ("q", "quit"),
]


class HelpScreen(ModalScreen):
    """Every key, and what the panels mean."""

    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("auditmon keys\n\n", style="bold")
        for keys, meaning in HELP:
            text.append(f"{keys:<18}", style="bold cyan")
            text.append(f"{meaning}\n")
        text.append(
            "\nPanels: processes (select one to scope everything to it), the category heatmap "
            "(one column per second, colour by count on a log scale), events, and the "
            "command's output. Drops are always shown in the status line.",
            style="dim",
        )
        yield Static(text, id="help")
