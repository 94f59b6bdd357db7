"""Test doubles for the UI: a monitor over a fixed session at a fixed time."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from auditmon import record
from auditmon.model import Session
from auditmon.monitor import answers
from auditmon.monitor.requests import ExportRequest, InventoryRequest, Request
from auditmon.monitor.turn import UiTurn
from auditmon.record import Recorder, Recording
from auditmon.views import snapshot as snapshots
from auditmon.views.snapshot import Snapshot, Status, View


class StaticMonitor:
    """What the app needs of a monitor (``auditmon.ui.port.MonitorPort``) over a fixed
    session: snapshots and answers are delivered at once, on the caller's thread, so a
    Pilot test sees them after its next pause."""

    def __init__(
        self,
        session: Session,
        now: float,
        state: str = "static data",
        mode: str = "static",
        output: list[tuple[str, str]] | None = None,
    ) -> None:
        self.session = session
        self.now = now
        self.state = state
        self.mode = mode
        self.output = tuple(output or ())
        self.command_running = False
        self.view = View()
        self.turn = UiTurn()
        self._deliver: Callable[[Any], None] | None = None

    def start(self, deliver: Callable[[Any], None]) -> None:
        self._deliver = deliver
        deliver(self.snapshot())

    def snapshot(self) -> Snapshot:
        built = snapshots.build(self.session, self.view, self.now)
        status = Status(
            self.mode, self.state, None, self.output, len(self.output), self.command_running
        )
        return replace(built, status=status)

    def set_view(self, view: View) -> None:
        self.view = view
        if self._deliver is not None:
            self._deliver(self.snapshot())

    def ask(self, request: Request) -> None:
        assert self._deliver is not None
        if isinstance(request, InventoryRequest):
            scope = answers.scope_of(self.session, request.view)
            self._deliver(answers.inventory(request, self.recording(), scope))
            return
        if isinstance(request, ExportRequest):
            scope = answers.scope_of(self.session, request.view)
            self._deliver(answers.export(request, self.records(), scope, None))
            return
        self._deliver(answers.answer(self.session, request, self.now))

    def recording(self) -> Recording:
        """``records()`` written to a recording of their own (as the live spool is)."""
        folder = Path(tempfile.mkdtemp(prefix="auditmon-double-"))
        path = folder / "session.jsonl"
        recorder = Recorder(path)
        for item in self.records():
            recorder.write_record(item)
        recorder.close()
        return Recording(path)

    def records(self) -> Iterator[dict[str, Any]]:
        """The session as a recording would hold it (its kept events, which in these
        tests are all of them)."""
        for totals in self.session.ordered_processes():
            process = totals.process
            yield record.process_record(process)
            raw = sorted((e for s in totals.stats.values() for e in s.raw), key=lambda e: e[0])
            for event in raw:
                yield record.event_record(process.pid, list(event))
            if process.status != "running":
                yield record.exit_record(process)

    def stop(self) -> None:
        """Nothing runs."""
