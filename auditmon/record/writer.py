"""Recordings: every process, event, drop and exit of a session, written as it arrives.

Two encodings of the same records:

* ``*.jsonl``: JSON Lines, one record object per line.
* anything else: a compact msgpack stream: a header map
  ``{"type": "header", "format": "auditmon-recording", "version": 1}`` followed by
  the same record maps, except that events come in batches,
  ``{"type": "events", "pid": P, "events": [[seq, time, thread, event, args, stack], ...]}``,
  with argument values in their wire form (``bin``, and the protocol's extension types
  for cut values, descriptions and wide ints). ``read_recording`` yields single event
  records from either.  Because that is the wire form, the recorder writes each batch's
  ``events`` array as the bytes the agent sent (``Sink`` raw pass-through in
  ``auditmon.ingest``) rather than re-encoding the decoded batch, which would cost about
  as much as decoding it; it packs only when those bytes are not available.

Records: ``process`` (before that pid's events), ``thread`` (a thread's name, before
the events that need it), ``event``, ``dropped`` and ``exit``;
see the README for their fields.  JSON cannot hold every value an event carries, so
``to_json`` renders the others as small tagged objects (``{"$bytes": ...}`` and so on);
``from_json`` reverses it.  JSON Lines are written a batch at a time by orjson, to the
bytes the standard library's encoder gives (``auditmon.record.jsonl``); the batch's wire
bytes tell which events orjson can be trusted with, so this recorder wants them too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import msgpack

from auditmon import protocol
from auditmon.model.alerts import Alert
from auditmon.model.process import Process
from auditmon.record.jsonl import EventLines, record_line
from auditmon.record.line_helper import LineHelper, helper_wanted
from auditmon.record.records import (
    FORMAT,
    FORMAT_VERSION,
    alert_record,
    dropped_record,
    exit_record,
    is_jsonl,
    process_record,
    suppressed_record,
    thread_record,
)

#: Events a JSON Lines recording writes in the recorder's process before it takes a
#: helper process (by default): about a tenth of a second's work in one process.
HELPER_AFTER = 65_536


class Recorder:
    """A sink that writes every record to a file as it arrives, and an ``AlertSink``
    that writes each alert shown after the events it names, and the count of those
    suppressed when the process ends.

    Exit records of processes whose exit status is still to come (the launched
    command's) are held back with ``hold_exit`` and written by ``release_exit``.

    A JSON Lines recording is written by a helper process (``line_helper``) where
    ``helper`` says so: True, from the start; by default, once ``HELPER_AFTER`` events
    were written here, where two cores are free (a short run does not pay for starting
    one, nor wait for it at its end).  A write that fails (a
    full disk, a helper that died) stops the recording: ``failure`` says why and after
    how many events, and ``problem``, if given, hears it once; nothing raises.
    ``native``: False, JSON Lines come from the Python path alone (the C renderer's
    lines are the same bytes: for comparison).
    """

    def __init__(
        self,
        path: str | Path,
        helper: bool | None = None,
        problem: Callable[[str], None] | None = None,
        native: bool = True,
    ) -> None:
        self.path = Path(path)
        self.jsonl = is_jsonl(path)
        # Unbuffered: what a failed write leaves out is exactly what it was given.
        self.file: IO[bytes] = open(self.path, "wb", buffering=0)
        self.held: set[int] = set()
        self.pending: list[Process] = []
        # (pid, rule) -> [priority, count, last time] of the alerts suppressed
        self.suppressions: dict[tuple[int, str], list[Any]] = {}
        self.failure: str | None = None
        self.problem = problem
        self.recorded = 0  # events written (or handed to the helper)
        self._helper: LineHelper | None = None
        self._helper_after: int | None = None  # events, where one is to start later
        if self.jsonl:
            self._lines = EventLines(native)
            if helper:
                self._start_helper()
            elif helper is None and helper_wanted():
                self._helper_after = HELPER_AFTER
            self._write = self._write_json
        else:
            self._packer = msgpack.Packer(
                use_bin_type=True, default=_ext_default, unicode_errors="surrogatepass"
            )
            self._write = self._write_msgpack
            self._write({"type": "header", "format": FORMAT, "version": FORMAT_VERSION})
            pack = self._packer.pack
            # {"type": "events", "pid": P, "events": <array>}, as packing that dict writes it.
            self._batch_head = b"\x83" + pack("type") + pack("events") + pack("pid")
            self._batch_events_key = pack("events")
        self.wants_raw = True  # see ingest.Sink

    def _start_helper(self) -> None:
        """Hand the file to a helper process, which writes on from where it is."""
        self._helper_after = None
        try:
            self._helper = LineHelper(self.file, self._lines.native)
        except OSError:
            return  # written here, then
        self.file.close()  # the helper's now (its copy shares the file's offset)

    def _out(self, *parts: bytes | bytearray) -> None:
        """Write ``parts`` (or hand them to the helper), unless the recording failed."""
        if self.failure is not None:
            return
        try:
            if self._helper is not None:
                for data in parts:
                    self._helper.write(data)
                return
            for data in parts:
                view = memoryview(data)
                while view:  # (a write may take only part of it; the next one says why)
                    view = view[self.file.write(view) :]
        except OSError as error:
            self._failed(error)

    def _failed(self, error: OSError) -> None:
        self._fail(f"{error.strerror or error} (after {self.recorded:,} events)")

    def _fail(self, reason: str) -> None:
        """Stop the recording, saying why (the helper's own words, where it has any)."""
        if self._helper is not None:
            reason = self._helper.close() or reason
            self._helper = None
        self.failure = f"cannot write {self.path}: {reason}; the recording stops there"
        if self.problem is not None:
            self.problem(f"auditmon: {self.failure}")

    def _write_json(self, record: dict[str, Any]) -> None:
        self._out(record_line(record))

    def _write_msgpack(self, record: dict[str, Any]) -> None:
        self._out(self._packer.pack(record))

    # -- sink ----------------------------------------------------------------------
    def process_started(self, process: Process) -> None:
        self._write(process_record(process))

    def events(
        self, process: Process, events: list[list[Any]], raw: bytes | bytearray | None = None
    ) -> None:
        """Record one batch; ``raw``, if given, is ``events`` as encoded on the wire."""
        pid = process.pid
        if self.failure is not None:
            return
        if self._helper_after is not None and self.recorded >= self._helper_after:
            self._start_helper()
        if self._helper is not None and raw is not None:
            try:
                self._helper.batch(pid, events, raw, self._lines)
            except OSError as error:
                self._failed(error)
        elif self.jsonl:  # (handed to the helper, where there is one)
            self._out(self._lines.lines(pid, events, raw))
        elif raw is not None:  # the wire bytes go straight through
            self._out(self._batch_head + self._packer.pack(pid) + self._batch_events_key, raw)
        else:  # one record per batch: a single C-level pack
            self._write({"type": "events", "pid": pid, "events": events})
        if self.failure is None:
            self.recorded += len(events)

    def threads_named(self, process: Process, names: list[tuple[int, int, str]]) -> None:
        for thread, seq, name in names:
            self._write(thread_record(process.pid, thread, seq, name))

    def dropped(self, process: Process, count: int) -> None:
        self._write(dropped_record(process.pid, count))

    def alert(self, alert: Alert) -> None:
        self._write(alert_record(alert))

    def suppressed(self, alert: Alert, count: int = 1) -> None:
        tally = self.suppressions.get((alert.pid, alert.rule))
        if tally is None:
            tally = self.suppressions[(alert.pid, alert.rule)] = [alert.priority, 0, alert.time]
        tally[1] += count
        tally[2] = max(tally[2], alert.time)

    def _write_suppressed(self, pid: int | None) -> None:
        for key in [k for k in self.suppressions if pid is None or k[0] == pid]:
            priority, count, when = self.suppressions.pop(key)
            self._write(suppressed_record(key[0], key[1], priority, count, when))

    def process_ended(self, process: Process) -> None:
        self._write_suppressed(process.pid)
        if process.lost:
            self._write(dropped_record(process.pid, process.lost))
        if process.pid in self.held:
            self.pending.append(process)
        else:
            self._write(exit_record(process))

    def hold_exit(self, pid: int) -> None:
        """Don't write ``pid``'s exit record until its exit status is known."""
        self.held.add(pid)

    def release_exit(self, pid: int, exit_code: int | None) -> None:
        """Write the held exit records of ``pid``; the last image gets ``exit_code``."""
        self.held.discard(pid)
        mine = [p for p in self.pending if p.pid == pid]
        self.pending = [p for p in self.pending if p.pid != pid]
        for i, process in enumerate(mine):
            if i == len(mine) - 1:
                process.exit_code = exit_code
            self._write(exit_record(process))

    def write_record(self, record: dict[str, Any]) -> None:
        """Write a record as read from another recording (an export passes them on)."""
        if record.get("type") == "event" and not self.jsonl:
            self._write({**record, "args": list(record["args"])})
        else:
            self._write(dict(record))

    def flush(self) -> None:
        """Hand what the helper has not had yet to it (the file itself is unbuffered)."""
        if self._helper is not None:
            try:
                self._helper.flush()
            except OSError as error:
                self._failed(error)

    def close(self) -> None:
        self._write_suppressed(None)
        for pid in list(self.held):
            self.release_exit(pid, None)
        self.flush()
        if self._helper is not None:
            reason = self._helper.close()
            self._helper = None
            if reason is not None:
                self._fail(reason)
        self.file.close()


class Spool(Recorder):
    """The live monitor's own msgpack recording of the session, which exports read back:
    it holds every event the view counts.  Past ``limit`` bytes (or a failed write) it
    stops, and says after how many events (``cut_after``)."""

    def __init__(
        self, path: str | Path, limit: int, problem: Callable[[str], None] | None = None
    ) -> None:
        super().__init__(path, problem=problem)
        self.limit = limit
        self.cut_after: int | None = None

    def _full(self) -> bool:
        if self.cut_after is None and (self.failure is not None or self.file.tell() >= self.limit):
            self.cut_after = self.recorded
        return self.cut_after is not None

    def process_started(self, process: Process) -> None:
        if not self._full():
            super().process_started(process)

    def events(
        self, process: Process, events: list[list[Any]], raw: bytes | bytearray | None = None
    ) -> None:
        if not self._full():
            super().events(process, events, raw)

    def threads_named(self, process: Process, names: list[tuple[int, int, str]]) -> None:
        if not self._full():
            super().threads_named(process, names)

    def dropped(self, process: Process, count: int) -> None:
        if not self._full():
            super().dropped(process, count)

    def process_ended(self, process: Process) -> None:
        if not self._full():
            super().process_ended(process)

    def size(self) -> int:
        """Bytes written so far (all of them on disk for a reader: unbuffered)."""
        return self.file.tell()


def _ext_default(obj: Any) -> Any:
    if type(obj) is int:  # wider than msgpack's 64 bits
        obj = protocol.BigInt(obj)
    code, data = protocol.wire.ext_payload(obj, protocol.packb)
    return msgpack.ExtType(code, data)
