"""``auditmon replay``'s source: a recording, loaded at once or replayed in time, through
the same accounting as live agents (``auditmon.ingest.ledger``); its alerts are handed
on too (``Intake.recorded_alert``), with the events they name where those were read
shortly before."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from auditmon.model.alerts import Alert
from auditmon.model.priority import priority_named
from auditmon.model.process import NOT_MONITORED, Process
from auditmon.record.reader import EventBatch, Recording
from auditmon.sources.feed import Intake
from auditmon.sources.sessions import WAITING, follow_records

BATCH = 1000
STEP_SECONDS = 0.05
#: Events remembered for the alerts that follow them in a recording.
RECENT_EVENTS = 4096


class ReplayFeed:
    """Reads records in steps of at most 50 ms; with ``speed``, no faster than they were
    recorded, ``speed`` times over."""

    mode = "replay"

    def __init__(
        self,
        path: str | Path,
        speed: float | None = None,
        watching: Callable[[], bool] | None = None,
    ) -> None:
        """``watching``: the recording is a running session's (``sources.sessions``),
        followed as it grows while ``watching()`` says the session goes on."""
        self.path = Path(path)
        self.speed = speed
        self.watching = watching
        self.state = f"replaying {self.path.name}"
        self.finished = False
        self.recording = Recording(self.path)
        self._items: Iterator[dict[str, Any] | EventBatch] | None = None
        self._processes: dict[int, Process] = {}
        self._started_at = 0.0
        self._first_time: float | None = None
        self._pending: dict[str, Any] | EventBatch | None = None
        self._last_time: float | None = None
        self._recent: OrderedDict[tuple[int, int], list[Any]] = OrderedDict()

    def launch(self, intake: Intake) -> None:
        intake.ingest.ledger.spawns = None  # the recording says which were not reached
        # Events in batches, msgpack's arrays as tuples: as live agents' events come.
        if self.watching is not None:
            self._items = follow_records(self.path, self.watching)
            self.state = "watching the session"
        else:
            self._items = iter(self.recording.chunks(lazy=True))
        self._started_at = time.monotonic()

    def clock(self) -> float:
        """Replays run on the recording's clock: the time of the latest event seen."""
        return self._last_time + 1 if self._last_time is not None else time.time()

    def step(self, intake: Intake) -> None:
        assert self._items is not None
        deadline = time.monotonic() + STEP_SECONDS
        while time.monotonic() < deadline:
            item = self._pending or next(self._items, None)
            self._pending = None
            if item is None:
                self._finish()
                return
            if item is WAITING:  # a session's recording, nothing new yet
                time.sleep(min(STEP_SECONDS, max(0.0, deadline - time.monotonic())))
                return
            if type(item) is EventBatch:
                rest = self._events(intake, item)
                if rest is not None:  # in time: the rest is not due yet
                    self._pending = rest
                    return
                continue
            if self._wait_for(item.get("time")):
                self._pending = item
                return
            self._record(intake, item)

    def _due_in(self, when: Any) -> float:
        """Seconds until a record of time ``when`` is due (0 when not in time)."""
        if not self.speed or not isinstance(when, (int, float)):
            return 0.0
        if self._first_time is None:
            self._first_time = when
        due = self._started_at + (when - self._first_time) / self.speed
        return due - time.monotonic()

    def _wait_for(self, when: Any) -> bool:
        """Sleep a step towards a record not due yet; whether it was not."""
        wait = self._due_in(when)
        if wait > 0:
            time.sleep(min(STEP_SECONDS, wait))
            return True
        return False

    def _events(self, intake: Intake, batch: EventBatch) -> EventBatch | None:
        """Hand a batch's events on, up to the first not due yet; the rest, if any."""
        process = self._processes.get(batch.pid)
        if process is None:
            process = self._open(intake, batch.pid, {})
        events = batch.events
        if batch.decode is not None:
            events = [[*e[:4], batch.arguments(e), *e[5:]] for e in events]
        stop = len(events)
        if self.speed:
            for i, event in enumerate(events):
                if self._due_in(event[1]) > 0:
                    stop = i
                    break
        for start in range(0, stop, BATCH):
            self._flush(intake, process, events[start : min(stop, start + BATCH)])
        if stop == len(events):
            return None
        self._wait_for(events[stop][1])
        return EventBatch(batch.pid, events[stop:])

    def _record(self, intake: Intake, record: dict[str, Any]) -> None:
        """A record that is not an event."""
        ledger = intake.ingest.ledger
        kind = record.get("type")
        if kind == "process" and record.get("monitored") is False:
            self._unreached(intake, record)
        elif kind == "process":
            self._open(intake, record["pid"], record)
        elif kind == "thread" and record.get("pid") in self._processes:
            thread, seq, name = record.get("thread"), record.get("seq"), record.get("name")
            if type(thread) is int and type(seq) is int and type(name) is str:
                ledger.threads(self._processes[record["pid"]], [(thread, seq, name)])
        elif kind == "dropped" and record["pid"] in self._processes:
            ledger.dropped(self._processes[record["pid"]], record["count"])
        elif kind == "exit" and record.get("status") == NOT_MONITORED:
            pass  # its process record said so, and ended it
        elif kind in ("alert", "suppressed"):
            self._alert(intake, record)
        elif kind == "exit" and record["pid"] in self._processes:
            process = self._processes[record["pid"]]
            process.ring = record.get("ring") is True
            cut = record.get("cut")
            process.ring_cut = cut if type(cut) is int and cut > 0 else 0
            ledger.ended(
                process,
                record.get("status") or "exited",
                record.get("time"),
                record.get("exit_code"),
                settle=False,  # what was lost is in the recording's dropped records
            )

    def _remember(self, pid: int, event: list[Any]) -> None:
        recent = self._recent
        recent[(pid, event[0])] = event
        if len(recent) > RECENT_EVENTS:
            recent.popitem(last=False)

    def _alert(self, intake: Intake, record: dict[str, Any]) -> None:
        """An ``alert`` or ``suppressed`` record, as an Alert for the session."""
        try:
            pid, seq = int(record["pid"]), int(record.get("seq") or 0)
            event = self._recent.get((pid, seq))
            process = self._processes.get(pid)
            stack = event[5] if event is not None else None
            alert = Alert(
                rule=str(record["rule"]),
                priority=priority_named(str(record["priority"])),
                output=str(record.get("output") or ""),
                tags=tuple(record.get("tags") or ()),
                fields=dict(record.get("fields") or {}),
                pid=pid,
                seq=seq,
                time=float(record.get("time") or 0.0),
                event=event[3] if event is not None else "",
                process_id=process.id if process is not None else None,
                args=tuple(event[4]) if event is not None else (),
                thread=event[2] if event is not None else 0,
                stack=tuple(tuple(f) for f in stack) if stack else None,
            )
        except (KeyError, TypeError, ValueError):
            return  # a damaged alert record takes nothing else with it
        count = int(record.get("count") or 0) if record["type"] == "suppressed" else 0
        if record["type"] == "alert" or count > 0:
            intake.recorded_alert(alert, count)

    def _open(self, intake: Intake, pid: int, record: dict[str, Any]) -> Process:
        ledger = intake.ingest.ledger
        process = ledger.new_process()
        hello = {"pid": pid, **{k: v for k, v in record.items() if k not in ("type", "pid")}}
        self._processes[pid] = process
        ledger.hello(process, hello)
        return process

    def _unreached(self, intake: Intake, record: dict[str, Any]) -> None:
        """A Python process the recording's session saw started but never heard from."""
        ledger = intake.ingest.ledger
        process = ledger.new_process()
        ledger.hello(process, {k: v for k, v in record.items() if k != "type"})
        ledger.ended(process, NOT_MONITORED, process.start, settle=False)

    def _flush(self, intake: Intake, process: Process | None, batch: list[list[Any]]) -> None:
        if process is not None and batch:
            latest = max(event[1] for event in batch)
            if self._last_time is None or latest > self._last_time:
                self._last_time = latest
            intake.ingest.ledger.events(process, batch)
            for event in batch[-RECENT_EVENTS:]:  # for the alerts that name them
                self._remember(process.pid, event)

    def _finish(self) -> None:
        self.finished = True
        self.state = "the session ended" if self.watching else f"replayed {self.path.name}"
        if self.recording.cut:
            self.state += f"; {self.recording.cut}"

    def exit_codes(self) -> dict[int, int]:
        return {}

    def close(self) -> None:
        """Nothing is held open between steps."""
