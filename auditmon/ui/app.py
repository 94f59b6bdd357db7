"""The auditmon Textual app: shows the snapshots a monitor delivers and drives drill-down
by keyboard.  Everything it shows comes in a snapshot or in an answer to a request
(``auditmon.monitor.requests``); it never reads the model itself.  Screens say what
they want with messages (``auditmon.ui.messages``); the app owns the view."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from auditmon.catalog import load_catalog
from auditmon.monitor.requests import Answer, ExportRequest
from auditmon.ui.messages import (
    AnswerReady,
    Ask,
    ChangeView,
    CycleView,
    Open,
    ShowLatest,
    SnapshotReady,
)
from auditmon.ui.port import MonitorPort
from auditmon.ui.presenters import plural
from auditmon.ui.screens import CellScreen, EventScreen, HelpScreen
from auditmon.ui.screens.alerts import AlertsScreen
from auditmon.ui.screens.confirm import ConfirmQuit
from auditmon.ui.screens.inventory import InventoryScreen
from auditmon.ui.screens.main import MainScreen
from auditmon.ui.screens.process import ProcessScreen
from auditmon.ui.screens.tail import TailScreen
from auditmon.views.snapshot import Snapshot, View


class AuditmonApp(App[int]):
    """Live per-process panels, a category heatmap and drill-down argument views."""

    CSS_PATH = "app.tcss"
    TITLE = "auditmon"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("p", "pause", "Pause"),
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
        self._askers: dict[int, Any] = {}  # request id -> the screen that asked

    def get_default_screen(self) -> Screen:
        return MainScreen(self.catalog, self.monitor.mode)

    def on_mount(self) -> None:
        self.monitor.start(self._deliver)
        if self.duration is not None:
            self.set_timer(self.duration, self.exit)

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
        """Apply a snapshot to the screen on top; ingest waits until it is redrawn."""
        self.monitor.turn.redrawing()
        self.call_after_refresh(self.monitor.turn.redrawn)
        self.shown = snapshot
        screen = self.screen
        if getattr(screen, "ready", False):
            with self.batch_update():
                screen.show_snapshot(snapshot, self.paused)  # type: ignore[attr-defined]

    @on(ShowLatest)
    def show_latest(self, message: ShowLatest) -> None:
        if self.shown is not None:
            self.show(self.shown)

    def update_status(self) -> None:
        if self.shown is not None:
            self.show(self.shown)

    def set_view(self, view: View) -> None:
        """Show ``view`` from now on: the monitor answers with a snapshot of it."""
        if view != self.view or view.filter.text != self.view.filter.text:
            self.view = view
            self.monitor.set_view(view)

    @on(ChangeView)
    def change_view(self, message: ChangeView) -> None:
        message.stop()
        self.set_view(replace(self.view, **message.changes))

    @on(CycleView)
    def cycle_view(self, message: CycleView) -> None:
        message.stop()
        current = getattr(self.view, message.field)
        choices = message.choices
        following = choices[(choices.index(current) + 1) % len(choices)]
        self.set_view(replace(self.view, **{message.field: following}))
        self.notify(f"{message.what} {following}", timeout=2)

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

    @on(Open)
    def open(self, message: Open) -> None:
        message.stop()
        what, target = message.what, message.target
        if what == "event":
            self.push_screen(EventScreen(target["name"], self.view, self.catalog))
        elif what == "cell":
            cell = CellScreen(target["category"], target["second"], self.view, self.catalog)
            self.push_screen(cell)
        elif what == "process":
            self.push_screen(ProcessScreen(target["process_id"], self.catalog))
        elif what == "tail":
            self.push_screen(TailScreen(self.view, self.catalog))
        elif what == "alerts":
            self.push_screen(AlertsScreen(self.catalog))
        elif what == "inventory":
            scope = self.shown.scope if self.shown is not None else "all processes"
            self.push_screen(InventoryScreen(self.view, scope))
        elif what == "export":
            self.export_view()

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

        self.push_screen(ConfirmQuit(status.state.removeprefix("running ")), answered)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused and self.latest is not None:
            self.show(self.latest)  # ingest went on meanwhile
        else:
            self.update_status()

    def action_filter(self) -> None:
        main = self._main()
        if main is not None:
            while self.screen is not main:
                self.pop_screen()
            main.action_filter()

    def action_sort(self) -> None:
        main = self._main()
        if main is not None:
            main.action_sort()

    def _main(self) -> MainScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    def export_view(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.export_dir / f"auditmon-export-{stamp}.jsonl"
        self.monitor.ask(ExportRequest(path, self.view))

    def action_export(self) -> None:
        self.export_view()

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
        for command in super().get_system_commands(screen):
            if command.title != "Keys":  # ours lists every key, Textual's only some
                yield command
        yield SystemCommand("Filter", "Filter events (/)", self.action_filter)
        yield SystemCommand(
            "Pause or resume", "Freeze the view; ingest goes on (p)", self.action_pause
        )
        yield SystemCommand("Change sort", "Cycle the events table's sort (s)", self.action_sort)
        yield SystemCommand(
            "Export view", "Write the current view as JSON Lines (e)", self.action_export
        )
        yield SystemCommand(
            "Tail", "The latest events as they come (t)", lambda: self.post_message(Open("tail"))
        )
        yield SystemCommand(
            "Alerts", "What the rules said, by rule (a)", lambda: self.post_message(Open("alerts"))
        )
        yield SystemCommand(
            "What it touched",
            "Files, hosts, commands, modules of the scope (i)",
            lambda: self.post_message(Open("inventory")),
        )
        yield SystemCommand("Keys", "List every key (?)", self.action_help)
