"""One event: each argument's values (a table each: focus one with tab, Enter on a value
filters on it) and the recent occurrences."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from auditmon.catalog import Catalog
from auditmon.model.filtering import FilterError, parse
from auditmon.monitor.requests import Answer, DetailRequest
from auditmon.ui.messages import Ask, ChangeView
from auditmon.ui.presenters import plural, risk_text
from auditmon.ui.screens.occurrences import OccurrenceListScreen, OccurrenceTable
from auditmon.ui.widgets.status import StatusLine
from auditmon.views.detail import ArgumentSummary, EventDetail
from auditmon.views.snapshot import View

VALUES_SHOWN = 200  # values asked for per argument; the rest are counted as "+N more"
MORE = "more"


def quoted(text: str) -> str:
    """``text`` as a quoted value of the filter language."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ValueTable(DataTable):
    """One argument's values, the most frequent first; Enter filters on one."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    @dataclass
    class Chosen(Message):
        argument: str
        value: str
        cut: bool  # the value is longer than what was sent: match its beginning

    def __init__(self, argument: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.argument = argument
        self.values: dict[str, str] = {}
        self.cursor_type = "row"

    def on_mount(self) -> None:
        self._columns(len("events"), len(self.argument))

    def _columns(self, events: int, value: int) -> None:
        """The columns, as wide as their contents.  Set here, not measured by the table
        after the rows come: it measures them on idle, and a header row drawn before that
        kept the old widths."""
        self.add_column("events", width=events, key="events")
        self.add_column(self.argument, width=value, key="value")

    def fill(self, summary: ArgumentSummary) -> None:
        rows = [(f"{count:,}", shown) for shown, count in summary.top]
        current = (self.cursor_row, self.scroll_y)
        notes = [f"+{summary.more:,} more"] if summary.more else []
        if summary.unchecked:
            notes.append(f"{summary.unchecked:,} past the bound, not counted here")
        self.clear(columns=True)
        texts = [self.argument, *(text for _, text in rows), *notes]
        self._columns(
            max([len("events")] + [len(count) for count, _ in rows]),
            max(cell_len(text) for text in texts),
        )
        self.values = {}
        for i, (count, shown) in enumerate(rows):
            key = str(i)
            self.values[key] = shown
            self.add_row(count, Text(shown, no_wrap=True, overflow="ellipsis"), key=key)
        if summary.more:
            self.add_row("", Text(notes[0], style="dim"), key=MORE)
        if summary.unchecked:
            self.add_row("", Text(notes[-1], style="yellow"), key="unchecked")
        if self.row_count:
            self.move_cursor(row=min(current[0], self.row_count - 1), animate=False)
            self.scroll_y = current[1]

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        message.stop()
        shown = self.values.get(str(message.row_key.value))
        if shown is not None:
            cut = shown.endswith("…")
            self.post_message(self.Chosen(self.argument, shown.rstrip("…") if cut else shown, cut))


class EventScreen(OccurrenceListScreen):
    """One event: its arguments' values and its recent occurrences."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("tab", "focus_next", "Next table", show=False),
        Binding("shift+tab", "focus_previous", "Previous table", show=False),
    ]

    def __init__(self, name: str, view: View, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.event_name = name
        self.view = view
        self.detail: EventDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="event-title")
        yield Horizontal(id="arguments")
        yield Static(
            "Recent occurrences (enter: everything about one; ctrl+f: search)", classes="caption"
        )
        yield OccurrenceTable(id="occurrences")
        yield self.search_box()
        yield StatusLine(classes="status")
        yield Footer()

    def on_mount(self) -> None:
        self.ask_detail(refresh=False)
        self.set_interval(1.0, self.ask_detail)
        self.query_one(OccurrenceTable).focus()

    def ask_detail(self, refresh: bool = True) -> None:
        """Ask for the detail (the answer comes as a message: ``answered``)."""
        request = DetailRequest(self.event_name, self.view, top=VALUES_SHOWN)
        self.post_message(Ask(request, self, refresh=refresh))

    def answered(self, answer: Answer) -> None:
        if answer.error is not None or not self.is_mounted:
            return
        detail = answer.value
        self.detail = detail
        self.query_one("#event-title", Static).update(self.title_text(detail))
        arguments = self.query_one("#arguments", Horizontal)
        tables = list(arguments.query(ValueTable))
        if [t.argument for t in tables] != [s.name for s in detail.arguments]:
            arguments.remove_children()
            tables = [ValueTable(s.name, classes="argument") for s in detail.arguments]
            arguments.mount_all(tables)
            self.call_after_refresh(self._fill, detail)
        else:
            self._fill(detail)
        self.query_one(OccurrenceTable).show(detail.occurrences, self.catalog)

    def _fill(self, detail: EventDetail) -> None:
        for table, summary in zip(self.query(ValueTable), detail.arguments):
            table.fill(summary)

    def on_value_table_chosen(self, message: ValueTable.Chosen) -> None:
        """Filter on the value: this event, with this argument's value."""
        field = (
            message.argument if message.argument.startswith("arg") else f"arg.{message.argument}"
        )
        op = "startswith" if message.cut else "="
        terms = f"event = {quoted(self.event_name)} and {field} {op} {quoted(message.value)}"
        text = f"({self.view.filter.text}) and {terms}" if not self.view.filter.empty else terms
        try:
            query = parse(text, self.catalog)
        except FilterError as error:
            self.notify(str(error), title="Filter", severity="error", markup=False)
            return
        self.view = replace(self.view, filter=query)
        self.post_message(ChangeView(filter=query))
        self.ask_detail(refresh=False)
        self.notify(f"filter: {text}", timeout=4, markup=False)

    def title_text(self, detail: EventDetail) -> Text:
        category = self.catalog.category(detail.category)
        text = Text()
        text.append(detail.name, style="bold")
        text.append(f"({', '.join(detail.arg_names)})  ")
        text.append(category.title, style=category.color)
        text.append("  risk ")
        text.append_text(risk_text(detail.risk))
        scope = "all processes" if self.view.process_id is None else "one process"
        text.append(f"  {plural(detail.count, 'event')} in {scope}")
        if detail.unchecked:
            text.append(f" (+{detail.unchecked:,} unchecked)", style="yellow")
        if not self.view.filter.empty:
            text.append(f"  filter: {self.view.filter.text}", style="cyan")
        if detail.summary:
            text.append(f"\n{detail.summary}", style="dim")
        for link in detail.docs[:1]:
            text.append(f"  {link}", style="dim underline")
        return text
