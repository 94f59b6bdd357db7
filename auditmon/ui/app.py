"""The auditmon Textual app: shows the snapshots a monitor delivers and drives drill-down
by keyboard.  Everything it shows comes in a snapshot or in an answer to a request
(``auditmon.monitor.requests``); it never reads the model itself."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, RichLog

from auditmon.catalog import load_catalog
from auditmon.model.filtering import FilterError, parse
from auditmon.monitor.requests import Answer, ExportRequest
from auditmon.ui.messages import AnswerReady, Ask, SnapshotReady
from auditmon.ui.port import MonitorPort
from auditmon.ui.presenters import plural
from auditmon.ui.screens import CellScreen, EventScreen, HelpScreen
from auditmon.ui.screens.confirm import ConfirmQuit
from auditmon.ui.widgets import ALL, EventsTable, Heatmap, ProcessTable, StatusLine
from auditmon.views.snapshot import SORT_KEYS, Snapshot, View


class AuditmonApp(App[int]):
    """Live per-process panels, a category heatmap and drill-down argument views."""

    CSS_PATH = "app.tcss"
    TITLE = "auditmon"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("slash", "filter", "Filter"),
        Binding("p", "pause", "Pause"),
        Binding("s", "sort", "Sort"),
        Binding("e", "export", "Export"),
        Binding("tab", "focus_next", "Next panel", show=False),
        Binding("shift+tab", "focus_previous", "Previous panel", show=False),
    ]

    def __init__(
        self, monitor: MonitorPort, export_dir: Path | None = None, duration: float | None = None
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.duration = duration
        self.catalog = load_catalog()
        self.view = View()
        self.paused = False
        self.latest: Snapshot | None = None
        self.shown: Snapshot | None = None
        self.export_dir = export_dir or Path.cwd()
        self._output_total = 0
        self._askers: dict[int, Any] = {}  # request id -> the screen that asked

    # -- layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield ProcessTable(id="processes")
            with Vertical(id="right"):
                yield Heatmap(self.catalog, id="heatmap")
                yield EventsTable(self.catalog, id="events")
        if self.monitor.mode == "run":
            yield RichLog(id="output", max_lines=2000, markup=False, wrap=False)
        yield Input(
            placeholder="filter: socket.* cat:network pid=123 path~/etc risk>=warning", id="filter"
        )
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#processes").border_title = "Processes"
        self.query_one("#heatmap").border_title = "Categories per second"
        self.query_one("#events").border_title = "Events (enter: arguments)"
        if self.monitor.mode == "run":
            self.query_one("#output").border_title = "Output of the command (no stdin)"
        self.query_one("#filter").display = False
        self.apply_width(self.size.width)
        self.monitor.start(self._deliver)
        if self.duration is not None:
            self.set_timer(self.duration, self.exit)
        self.query_one(EventsTable).focus()

    def on_resize(self, event) -> None:
        self.apply_width(event.size.width)

    def apply_width(self, width: int) -> None:
        """Narrow terminals stack the panels; the heatmap gets what width there is."""
        self.screen.set_class(width < 120, "narrow")
        heat = self.query_one(Heatmap)
        columns = heat.columns_for(width - 4 if width < 120 else int(width * 0.52) - 4)
        wide = width >= 120
        if columns != self.view.heat_columns or wide != self.view.heat_all_categories:
            self.set_view(replace(self.view, heat_columns=columns, heat_all_categories=wide))

    # -- snapshots and answers -----------------------------------------------------
    def _deliver(self, item: Snapshot | Answer) -> None:
        """From the monitor's thread: snapshots and answers become messages."""
        if isinstance(item, Answer):
            self.post_message(AnswerReady(item))
        else:
            self.post_message(SnapshotReady(item))

    @on(SnapshotReady)
    def receive(self, message: SnapshotReady) -> None:
        self.latest = message.snapshot
        if not self.paused:
            self.show(message.snapshot)

    def show(self, snapshot: Snapshot) -> None:
        """Apply a snapshot to the panels; ingest waits until the screen is redrawn."""
        self.monitor.turn.redrawing()
        self.call_after_refresh(self.monitor.turn.redrawn)
        self.shown = snapshot
        with self.batch_update():
            self.query_one(ProcessTable).show(snapshot)
            self.query_one(Heatmap).show(snapshot)
            self.query_one(EventsTable).show(snapshot)
            self.update_status()
            self.update_output()

    def update_status(self) -> None:
        if self.shown is None:
            return
        self.query_one(StatusLine).show(self.shown, self.paused)

    def update_output(self) -> None:
        status = self.shown.status if self.shown is not None else None
        if (
            self.monitor.mode != "run"
            or status is None
            or status.output_total == self._output_total
        ):
            return
        log = self.query_one(RichLog)
        lines = status.output
        fresh = min(len(lines), status.output_total - self._output_total)
        self._output_total = status.output_total
        for stream, line in lines[len(lines) - fresh :]:
            log.write(Text(line, style="red" if stream == "stderr" else ""))

    def set_view(self, view: View) -> None:
        """Show ``view`` from now on: the monitor answers with a snapshot of it."""
        self.view = view
        self.monitor.set_view(view)

    @on(Ask)
    def ask(self, message: Ask) -> None:
        """A screen's request: on to the monitor (a paused app asks for nothing fresher)."""
        message.stop()
        if message.refresh and self.paused:
            return
        self._askers[message.request.id] = message.asker
        self.monitor.ask(message.request)

    @on(AnswerReady)
    def answered(self, message: AnswerReady) -> None:
        answer = message.answer
        if isinstance(answer.request, ExportRequest):
            self.exported(answer)
            return
        asker = self._askers.pop(answer.request.id, None)
        if asker is not None and asker.is_attached:
            asker.answered(answer)

    # -- panels --------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#processes")
    def scope_to_process(self, message: DataTable.RowHighlighted) -> None:
        key = message.row_key.value
        process_id = None if key in (None, ALL) else int(key)
        if process_id != self.view.process_id:
            self.set_view(replace(self.view, process_id=process_id))

    @on(DataTable.RowSelected, "#events")
    def open_event(self, message: DataTable.RowSelected) -> None:
        self.push_screen(EventScreen(message.row_key.value, self.view, self.catalog))

    @on(Heatmap.CellChosen)
    def open_cell(self, message: Heatmap.CellChosen) -> None:
        self.push_screen(CellScreen(message.category, message.second, self.view, self.catalog))

    # -- actions -------------------------------------------------------------------
    def action_interrupt(self) -> None:
        """Ctrl-C quits, as in any terminal program; while the launched command still
        runs, quitting would stop it, so ask first."""
        status = self.shown.status if self.shown is not None else None
        if status is None or not status.command_running:
            self.exit()
            return
        if isinstance(self.screen, ConfirmQuit):
            return

        def answered(quit_now: bool | None) -> None:
            if quit_now:
                self.exit()

        self.push_screen(ConfirmQuit(status.state), answered)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self.view.filter.text
        box.focus()

    @on(Input.Submitted, "#filter")
    def apply_filter(self, message: Input.Submitted) -> None:
        try:
            flt = parse(message.value, self.catalog)
        except FilterError as error:
            self.notify(str(error), title="Filter", severity="error", markup=False)
            return
        message.input.display = False
        self.set_view(replace(self.view, filter=flt))
        self.query_one(EventsTable).focus()

    def on_key(self, event) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_focus:
            box.display = False
            self.query_one(EventsTable).focus()
            event.stop()

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused and self.latest is not None:
            self.show(self.latest)  # ingest went on meanwhile
        else:
            self.update_status()

    def action_sort(self) -> None:
        following = SORT_KEYS[(SORT_KEYS.index(self.view.sort) + 1) % len(SORT_KEYS)]
        self.set_view(replace(self.view, sort=following))
        self.notify(f"events sorted by {following}", timeout=2)

    def action_export(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.export_dir / f"auditmon-export-{stamp}.jsonl"
        self.monitor.ask(ExportRequest(path, self.view))

    def exported(self, answer: Answer) -> None:
        done = answer.value
        if answer.error is not None:
            self.notify(answer.error, title="Export", severity="error", timeout=8, markup=False)
            return
        if done.path is None:
            text = "nothing in the current view: no file written"
        else:
            text = f"{plural(done.events, 'event')} written to {done.path}"
        if done.cut:
            text += f" ({done.cut})"
        self.notify(text, title="Export", timeout=8, markup=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Filter", "Filter events (/)", self.action_filter)
        yield SystemCommand(
            "Pause or resume", "Freeze the view; ingest goes on (p)", self.action_pause
        )
        yield SystemCommand("Change sort", "Cycle the events table's sort (s)", self.action_sort)
        yield SystemCommand(
            "Export view", "Write the current view as JSON Lines (e)", self.action_export
        )
        yield SystemCommand("Keys", "List every key (?)", self.action_help)
