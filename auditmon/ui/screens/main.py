"""The main screen: processes, the category heatmap, events, the command's output."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Input, RichLog, Static

from auditmon.catalog import Catalog
from auditmon.model.filtering import FilterError, parse
from auditmon.ui.messages import ChangeView, CycleView, Open, ShowLatest
from auditmon.ui.screens.base import MonitorScreen
from auditmon.ui.widgets import ALL, EventsTable, Heatmap, ProcessTable, StatusLine
from auditmon.views.snapshot import PROCESS_SORT_KEYS, SORT_KEYS, Snapshot, View

FILTER_HINT = "filter: socket.* cat:network pid=123 path~/etc risk>=warning (enter; escape)"
WAITING = "Waiting for a Python process to report…"
NOTHING = (
    "No Python process reported any events. The command may not be a Python program, or its "
    "interpreter may be older than CPython 3.8, statically linked, or started with -E, -I "
    "or -S where LD_PRELOAD was cleared (the agent comes in through PYTHONPATH and "
    "LD_PRELOAD)."
)


class MainScreen(MonitorScreen):
    """The panels; the app hands it each snapshot (``show_snapshot``)."""

    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("o", "process_sort", "Order processes", show=False),
        Binding("e", "export", "Export"),
        Binding("t", "tail", "Tail"),
        Binding("a", "alerts", "Alerts"),
        Binding("i", "inventory", "Touched"),
        Binding("escape,home", "all_processes", "All processes", show=False),
        Binding("tab", "focus_next", "Next panel", show=False),
        Binding("shift+tab", "focus_previous", "Previous panel", show=False),
    ]

    def __init__(self, catalog: Catalog, mode: str) -> None:
        super().__init__()
        self.catalog = catalog
        self.mode = mode
        self.output_total = 0
        self.view = View()  # the view of the latest snapshot shown

    # -- layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield ProcessTable(id="processes")
            with Vertical(id="right"):
                yield Heatmap(self.catalog, id="heatmap")
                yield EventsTable(self.catalog, id="events")
                yield Static(WAITING, id="empty")
        if self.mode == "run":
            yield RichLog(id="output", max_lines=2000, markup=False, wrap=False)
        yield Input(placeholder=FILTER_HINT, id="filter")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#processes").border_title = "Processes (enter: details)"
        self.query_one("#heatmap").border_title = "Categories per second"
        self.query_one("#events").border_title = "Events (enter: arguments)"
        if self.mode == "run":
            self.query_one("#output").border_title = "Output of the command (no stdin)"
        self.query_one("#filter").display = False
        self.query_one(EventsTable).focus()

    def on_resize(self, event) -> None:
        self.fit(self.app.size.width)

    def fit(self, width: int) -> None:
        """Lay the panels out for ``width`` columns; ask for the heatmap that fits."""
        self.set_class(width < 120, "narrow")
        heat = self.query_one(Heatmap)
        columns = heat.columns_for(width - 4 if width < 120 else int(width * 0.52) - 4)
        table = self.query_one(ProcessTable)
        if table.fit_command(width if width < 120 else int(width * 0.48)):
            self.post_message(ShowLatest())
        self.post_message(ChangeView(heat_columns=columns, heat_all_categories=width >= 120))

    # -- snapshots -----------------------------------------------------------------
    def show_snapshot(self, snapshot: Snapshot, paused: bool) -> None:
        self.view = snapshot.view
        self.query_one(ProcessTable).show(snapshot)
        self.query_one(Heatmap).show(snapshot)
        self.query_one(EventsTable).show(snapshot)
        self.show_empty(snapshot)
        self.query_one(StatusLine).show(snapshot, paused)
        self.show_output(snapshot)

    def show_empty(self, snapshot: Snapshot) -> None:
        """Say why there is nothing to show, rather than show nothing."""
        empty = self.query_one("#empty", Static)
        status = snapshot.status
        if snapshot.processes or snapshot.events:
            empty.display = False
            return
        ended = status.mode == "run" and not status.command_running
        empty.update(Text(NOTHING if ended else WAITING, style="dim"))
        empty.display = True

    def show_output(self, snapshot: Snapshot) -> None:
        status = snapshot.status
        if self.mode != "run" or status.output_total == self.output_total:
            return
        log = self.query_one(RichLog)
        lines = status.output
        fresh = min(len(lines), status.output_total - self.output_total)
        self.output_total = status.output_total
        for stream, line in lines[len(lines) - fresh :]:
            log.write(Text(line, style="red" if stream == "stderr" else ""))

    # -- panels --------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#processes")
    def scope_to_process(self, message: DataTable.RowHighlighted) -> None:
        key = message.row_key.value
        process_id = None if key in (None, ALL) else int(key)
        self.post_message(ChangeView(process_id=process_id))

    @on(DataTable.RowSelected, "#processes")
    def open_process(self, message: DataTable.RowSelected) -> None:
        if message.row_key.value not in (None, ALL):
            self.post_message(Open("process", process_id=int(message.row_key.value)))

    @on(DataTable.RowSelected, "#events")
    def open_event(self, message: DataTable.RowSelected) -> None:
        self.post_message(Open("event", name=message.row_key.value))

    @on(Heatmap.CellChosen)
    def open_cell(self, message: Heatmap.CellChosen) -> None:
        self.post_message(Open("cell", category=message.category, second=message.second))

    @on(ProcessTable.SortChosen)
    def sort_processes(self, message: ProcessTable.SortChosen) -> None:
        sort = "tree" if self.view.process_sort == message.sort else message.sort
        self.post_message(ChangeView(process_sort=sort))
        self.notify(f"processes in {sort} order", timeout=2)

    @on(EventsTable.SortChosen)
    def sort_events(self, message: EventsTable.SortChosen) -> None:
        self.post_message(ChangeView(sort=message.sort))
        self.notify(f"events sorted by {message.sort}", timeout=2)

    # -- actions -------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self.view.filter.text
        box.focus()

    @on(Input.Submitted, "#filter")
    def submit_filter(self, message: Input.Submitted) -> None:
        try:
            query = parse(message.value, self.catalog)
        except FilterError as error:
            self.notify(str(error), title="Filter", severity="error", markup=False)
            return
        for note in query.notes:
            self.notify(note, title="Filter", severity="warning", markup=False)
        message.input.display = False
        self.post_message(ChangeView(filter=query))
        self.query_one(EventsTable).focus()

    def on_key(self, event) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_focus:
            box.display = False
            self.query_one(EventsTable).focus()
            event.stop()

    def action_sort(self) -> None:
        self.post_message(CycleView("sort", SORT_KEYS, "events sorted by"))

    def action_process_sort(self) -> None:
        self.post_message(CycleView("process_sort", PROCESS_SORT_KEYS, "processes in order of"))

    def action_all_processes(self) -> None:
        """Back to every process: the scope widens and the tree's top row is chosen."""
        table = self.query_one(ProcessTable)
        if table.row_count:
            table.move_cursor(row=0)
        self.post_message(ChangeView(process_id=None))

    def action_export(self) -> None:
        self.post_message(Open("export"))

    def action_tail(self) -> None:
        self.post_message(Open("tail"))

    def action_alerts(self) -> None:
        self.post_message(Open("alerts"))

    def action_inventory(self) -> None:
        self.post_message(Open("inventory"))
