"""The live monitor: a feed, ingest and the session model on one thread of their own,
and the UI fed only by what that thread delivers.

The thread owns the model: it steps the feed (agents' sockets or a recording), samples
psutil once a second, and every ``interval`` seconds (one, by default: as top does)
builds a ``Snapshot`` for the UI's current ``View`` and delivers it, if anything
changed; the UI redraws at that bounded rate, never once per event.  What the user does
(a filter, a scope) and processes starting or ending are shown at once.  Requests (an
event's detail, a heatmap cell, an export) are queued to the thread and answered by an
``Answer`` delivered the same way, so nothing the UI does waits for ingest, and nothing
reads the model from the UI thread.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Union

from auditmon.model.alerts import AlertSink
from auditmon.model.process import Process
from auditmon.model.session import Session
from auditmon.monitor import answers
from auditmon.monitor.pipeline import Pipeline
from auditmon.monitor.requests import Answer, ExportRequest, InventoryRequest, Request
from auditmon.monitor.turn import UiTurn
from auditmon.record.reader import Recording
from auditmon.record.writer import Spool
from auditmon.rules import RuleSet
from auditmon.sources.facts import ProcessFacts
from auditmon.sources.feed import Feed
from auditmon.views import snapshot as snapshots
from auditmon.views.snapshot import Snapshot, Status, View

Delivery = Union[Snapshot, Answer]

#: The most the live monitor's spool (what exports read back) may hold on disk.
SPOOL_LIMIT = 4 << 30
Deliver = Callable[[Delivery], None]


class ModelSink:
    """Feeds the session on the monitor's thread; between batches it gives way to a
    redraw under way (``UiTurn``); it counts processes started and ended, which the UI
    shows without waiting for the cadence."""

    def __init__(self, session: Session, turn: UiTurn) -> None:
        self.session, self.turn = session, turn
        self.lifecycle = 0
        self.generation = 0  # anything at all changed

    def process_started(self, process: Process) -> None:
        self.session.process_started(process)
        self.lifecycle += 1
        self.generation += 1

    def events(self, process: Process, events: list[list[Any]], raw: bytes | None = None) -> None:
        self.session.events(process, events)
        self.generation += 1
        self.turn.wait()

    def dropped(self, process: Process, count: int) -> None:
        self.session.dropped(process, count)
        self.generation += 1

    def process_ended(self, process: Process) -> None:
        self.session.process_ended(process)
        self.lifecycle += 1
        self.generation += 1


class LiveMonitor:
    """Runs ``feed`` for the live UI (see the module's docstring)."""

    def __init__(
        self,
        feed: Feed,
        record: str | Path | None = None,
        recent: int = 100,
        interval: float = 1.0,
        rules: RuleSet | None = None,
        alert_sinks: Sequence[AlertSink] = (),
    ) -> None:
        self.feed = feed
        self.session = Session(recent=recent)
        self.session.alerts.active = rules is not None
        self.session.alerts.rules_loaded = len(rules.enabled) if rules is not None else 0
        self.turn = UiTurn()
        self.sink = ModelSink(self.session, self.turn)
        # What exports read back: the replayed file, or the session's own spool.
        self.source_path: Path | None = getattr(feed, "path", None)
        self._spool_dir: tempfile.TemporaryDirectory | None = None
        self.spool: Spool | None = None
        if self.source_path is None:
            self._spool_dir = tempfile.TemporaryDirectory(prefix="auditmon-view-")
            self.spool = Spool(
                Path(self._spool_dir.name) / "session.amrec", SPOOL_LIMIT, self.problem
            )
        self.pipeline = Pipeline(
            self.sink,
            record,
            self.problem,
            self.spool,
            rules=rules,
            alert_sinks=[self.session.alerts, *alert_sinks],
        )
        self.interval = interval
        self.view = View()
        self.problems: deque[str] = deque(maxlen=100)
        self.failed: str | None = None
        self._inbox: queue.SimpleQueue[View | Request] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._deliver: Deliver | None = None
        self._facts = ProcessFacts()
        self._facts_seen = 0  # samples taken: each may change what the screen shows
        self._closed = False

    @property
    def mode(self) -> str:
        return self.feed.mode

    # -- the caller's side ----------------------------------------------------------
    def launch(self) -> None:
        """Start the feed (listen and start the command, or open the recording) on the
        caller's thread, before the UI starts: OSError if it cannot be."""
        self.feed.launch(self.pipeline)

    def start(self, deliver: Deliver) -> None:
        """Run the thread; it hands snapshots and answers to ``deliver``."""
        self._deliver = deliver
        self._thread = threading.Thread(target=self._main, name="auditmon-monitor", daemon=True)
        self._thread.start()

    def set_view(self, view: View) -> None:
        """Show ``view`` from now on; a snapshot of it follows at once."""
        self._inbox.put(view)
        self.pipeline.ingest.wake()

    def ask(self, request: Request) -> None:
        """Queue ``request``; its ``Answer`` is delivered when the thread gets to it."""
        self._inbox.put(request)
        self.pipeline.ingest.wake()

    def terminate(self, grace: float = 5.0) -> int | None:
        """Stop the launched command, if there is one; its exit status."""
        terminate = getattr(self.feed, "terminate", None)
        return terminate(grace) if terminate is not None else None

    def stop(self) -> None:
        self._stop.set()
        self.pipeline.ingest.wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
        else:
            self._close()

    def problem(self, message: str) -> None:
        self.problems.append(message)

    # -- the thread -----------------------------------------------------------------
    def _main(self) -> None:
        try:
            next_snapshot = last_snapshot = 0.0
            shown: tuple[str, int] | None = None
            sent: tuple | None = None
            view_changed = False
            while not self._stop.is_set() and self._running():
                view_changed = self._serve() or view_changed
                self._step()
                now = time.monotonic()
                # A process started or ended, the feed's state or the view changed: a
                # snapshot as soon as the fastest cadence allows, not at the next.
                state = (self._state(), self.sink.lifecycle)
                news = view_changed or state != shown
                if now >= next_snapshot or (news and now >= last_snapshot + self.interval):
                    shown = state
                    last_snapshot = now
                    next_snapshot = now + self.turn.interval(self.interval)
                    self._sample_facts()
                    # Nothing new, and the same second: the screen would not change, so
                    # no snapshot (an idle monitor costs next to nothing).
                    clock = self.now()
                    latest = (self.sink.generation, self._facts_seen, int(clock), state)
                    if news or latest != sent:
                        sent = latest
                        view_changed = False
                        self._send(self.snapshot(clock))
                    self.pipeline.flush()  # for the session's watchers
            # Finished (or failed): the data stays, to be looked at; nothing moves any
            # more, so a snapshot follows only what the UI asks.
            self._send(self.snapshot())
            while not self._stop.is_set():
                if self._serve(wait=self.interval):
                    self._send(self.snapshot())
        finally:
            self._close()

    def _running(self) -> bool:
        return self.failed is None and not self.feed.finished

    def _step(self) -> None:
        try:
            self.feed.step(self.pipeline)
        except Exception as error:  # keep the UI alive and say what went wrong
            self.failed = f"auditmon: ingest stopped: {type(error).__name__}: {error}"
            self.problem(self.failed)

    def _serve(self, wait: float = 0.0) -> bool:
        """Handle queued requests (waiting up to ``wait`` for the first); whether the
        view changed, which wants a snapshot at once."""
        changed = False
        try:
            item = self._inbox.get(timeout=wait) if wait else self._inbox.get_nowait()
        except queue.Empty:
            return False
        while True:
            if isinstance(item, View):
                self.view = item
                changed = True
            else:
                self._answer(item)
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return changed

    def _answer(self, request: Request) -> None:
        try:
            if isinstance(request, ExportRequest):
                self._export(request)
                return
            if isinstance(request, InventoryRequest):
                self._inventory(request)
                return
            self._send(answers.answer(self.session, request, self.feed.clock()))
        except Exception as error:
            self._send(Answer(request, error=f"{type(error).__name__}: {error}"))

    def _export(self, request: ExportRequest) -> None:
        """Read back what the model has counted so far (the spool, flushed now, holds
        exactly that) and write the view's events, on a thread of its own: a large
        export does not hold ingest up."""
        scope = answers.scope_of(self.session, request.view)
        alerts = answers.alerts_by_image(self.session)
        source, cut = self._read_back()
        threading.Thread(
            target=lambda: self._send(answers.export(request, source, scope, cut, alerts)),
            name="auditmon-export",
            daemon=True,
        ).start()

    def _inventory(self, request: InventoryRequest) -> None:
        """What the scope touched: read back like an export, on a thread of its own."""
        scope = answers.scope_of(self.session, request.view)
        source, _ = self._read_back()
        threading.Thread(
            target=lambda: self._send(answers.inventory(request, source, scope)),
            name="auditmon-inventory",
            daemon=True,
        ).start()

    def _read_back(self) -> tuple[Recording, str | None]:
        """The session as recorded so far (the spool, flushed now, holds exactly what
        the model counted; or the replayed file), and where it was cut, if it was."""
        if self.spool is not None:
            cut = None
            if self.spool.failure is not None:
                cut = f"the view's spool stopped after {self.spool.recorded:,} events"
            elif self.spool.cut_after is not None:
                cut = f"the view's spool filled up after {self.spool.cut_after:,} events"
            return Recording(self.spool.path, limit=self.spool.size()), cut
        assert self.source_path is not None
        return Recording(self.source_path), None

    def snapshot(self, clock: float | None = None) -> Snapshot:
        """The current view of the model (on the monitor's thread, or once it is done)."""
        now = self.now() if clock is None else clock
        built = snapshots.build(self.session, self.view, now, live=self._live())
        return replace(built, status=self._status())

    def now(self) -> float:
        """The feed's clock; once nothing runs any more (the command and every process
        ended, or the recording replayed), the time of the last event: the heatmap and
        the rates stop there."""
        now = self.feed.clock()
        if self._live():
            return now
        last = self.session.last_time
        return now if last is None else min(now, last + 1)

    def _live(self) -> bool:
        """Whether anything may still happen."""
        if self.feed.finished:
            return False
        if getattr(self.feed, "command_running", False) or self.pipeline.ingest.open_connections:
            return True
        if self.pipeline.ingest.settling or not self.session.processes:
            return True
        return any(t.process.status == "running" for t in self.session.processes.values())

    def _state(self) -> str:
        return "error" if self.failed is not None else self.feed.state

    def _status(self) -> Status:
        output = getattr(self.feed, "output", None)
        tail = output.tail() if output is not None else None
        return Status(
            mode=self.mode,
            state=self._state(),
            problem=self.problems[-1] if self.problems else None,
            output=tail.lines if tail is not None else (),
            output_total=tail.total if tail is not None else 0,
            command_running=bool(getattr(self.feed, "command_running", False)),
        )

    def _send(self, item: Delivery) -> None:
        if self._deliver is not None:
            self._deliver(item)

    def _sample_facts(self) -> None:
        if not self._facts.due():
            return
        running = [
            (t.process.id, t.process.pid)
            for t in self.session.processes.values()
            if t.process.status == "running"
        ]
        if not running:
            return
        found = self._facts.sample(pid for _, pid in running)
        for process_id, pid in running:
            if pid in found:
                self.session.set_facts(process_id, found[pid])
        self._facts_seen += 1

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.pipeline.close(self.feed.exit_codes())
        self.feed.close()
        if self._spool_dir is not None:
            self._spool_dir.cleanup()
