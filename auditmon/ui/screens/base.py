"""What every screen of the app shares: the status line, kept up to date with each
snapshot, and a fresh look at the latest one whenever the screen comes back on top."""

from __future__ import annotations

from textual.screen import Screen

from auditmon.ui.messages import ShowLatest
from auditmon.ui.widgets.status import StatusLine
from auditmon.views.snapshot import Snapshot


class MonitorScreen(Screen):
    """A screen the app hands snapshots to (``show_snapshot``), once it is ``ready``
    (composed and mounted: Textual calls this class's ``on_mount`` after a subclass's)."""

    ready = False

    def on_mount(self) -> None:
        self.ready = True
        self.post_message(ShowLatest())

    def show_snapshot(self, snapshot: Snapshot, paused: bool) -> None:
        for line in self.query(StatusLine):
            line.show(snapshot, paused)

    def on_screen_resume(self) -> None:
        self.post_message(ShowLatest())
