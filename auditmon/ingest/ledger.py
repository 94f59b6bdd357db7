"""Per-process accounting, the same for live agents and replayed recordings.

Every event a process numbered is received, reported dropped, or (when its stream ends
without a goodbye) counted as lost; the ledger keeps those counts on each ``Process``
and hands every message on to the sink, in order.
"""

from __future__ import annotations

import time
from operator import itemgetter
from typing import Any

from auditmon.ingest.sinks import Sink, threads_named
from auditmon.model.process import NOT_MONITORED, Process
from auditmon.model.spawns import SPAWN_EVENTS, SpawnWatch, unreached_process

_name = itemgetter(3)

_first = itemgetter(0)


class Ledger:
    """The process images seen so far and the accounting of their events."""

    def __init__(self, sink: Sink, spawns: SpawnWatch | None = None) -> None:
        self.sink = sink
        self.processes: list[Process] = []
        # Python processes started by monitored ones, awaited (None: not watched, as
        # in a replay, whose recording says which were not reached).
        self.spawns = spawns

    def new_process(self) -> Process:
        """A process image whose hello is still to come (ids count from 1)."""
        process = Process(id=len(self.processes) + 1)
        self.processes.append(process)
        return process

    def hello(self, process: Process, body: dict[str, Any]) -> None:
        process.apply_hello(body)
        if self.spawns is not None:
            self.spawns.saw_hello(process)
        self.sink.process_started(process)

    def events(
        self, process: Process, batch: list[list[Any]], raw: bytes | bytearray | None = None
    ) -> None:
        process.received += len(batch)
        top = max(map(_first, batch)) if batch else 0
        if top > process.max_seq:
            process.max_seq = top
        self.sink.events(process, batch, raw)
        if self.spawns is not None and not SPAWN_EVENTS.isdisjoint(map(_name, batch)):
            self.spawns.saw_events(process, batch, time.monotonic())

    def threads(self, process: Process, names: list[tuple[int, int, str]]) -> None:
        """Names of threads of ``process``, ``(thread, from seq, name)`` each, before
        the events they name."""
        for thread, seq, name in names:
            process.name_thread(thread, seq, name)
        threads_named(self.sink, process, names)

    def dropped(self, process: Process, count: int) -> None:
        process.dropped += count
        self.sink.dropped(process, count)

    def goodbye(self, process: Process, body: dict[str, Any]) -> None:
        process.goodbye = body
        code = body.get("exit_code")
        if isinstance(code, int):
            process.exit_code = code

    def ended(
        self,
        process: Process,
        status: str,
        end_time: float | None,
        exit_code: int | None = None,
        settle: bool = True,
    ) -> None:
        """The stream of ``process`` is over.  ``settle`` counts what it numbered but
        never delivered as lost; a recording has its losses written down already."""
        process.status = status
        process.end_time = end_time
        if exit_code is not None:
            process.exit_code = exit_code
        if settle:
            process.account_end()
        self.sink.process_ended(process)
        if self.spawns is not None:
            self.spawns.parent_ended(process, time.monotonic())

    def settle_spawns(self, now: float) -> None:
        """Show the Python processes started but never heard from by ``now`` as not
        monitored (``now`` infinite: all still awaited, at the session's end)."""
        if self.spawns is None:
            return
        for spawn in self.spawns.due(now):
            process = unreached_process(spawn, self.new_process())
            process.status = NOT_MONITORED
            process.end_time = process.start
            self.sink.process_started(process)
            self.sink.process_ended(process)

    def last_image(self, pid: int) -> Process | None:
        """The latest process image that said hello with ``pid`` (exec keeps the pid)."""
        images = [p for p in self.processes if p.pid == pid and p.status != "connecting"]
        return images[-1] if images else None
