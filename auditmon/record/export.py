"""Exporting what a view shows: every event the view counts, read back from the session's
recording (the live monitor's spool, or the replayed file), with the ``process``,
``thread``, ``dropped`` and ``exit`` records of the processes they come from, so that the export
replays as the same processes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditmon.model.process import Process
from auditmon.model.query import Query, Subject
from auditmon.record.writer import Recorder


@dataclass(frozen=True)
class Exported:
    """What an export wrote: ``events`` to ``path`` (None: nothing matched, no file),
    and ``cut``, if its source ended before the session did."""

    events: int
    path: Path | None
    cut: str | None = None


def export_view(
    records: Iterable[dict[str, Any]],
    path: str | Path,
    query: Query,
    scope: tuple[int, float] | None = None,
    alerts: Callable[[Subject], Any] | None = None,
) -> Exported:
    """Write the events of ``records`` that ``query`` selects (of the one process image
    ``scope`` names by pid and start, if given) to ``path``; no file when none does.
    ``alerts`` answers the query's alert fields (see ``Subject``)."""
    writer = _ExportWriter(Path(path))
    images: dict[int, Process] = {}  # pid -> its latest image
    ids = 0

    def lineage(process: Process) -> list[Process]:
        found, seen, parent = [], {process.pid}, images.get(process.ppid)
        while parent is not None and parent.pid not in seen:
            found.append(parent)
            seen.add(parent.pid)
            parent = images.get(parent.ppid)
        return found

    for record in records:
        kind = record.get("type")
        pid = record.get("pid")
        if kind == "process" or (kind == "event" and pid not in images):
            ids += 1
            image = Process(id=ids)
            image.apply_hello({k: v for k, v in record.items() if k != "type"})
            images[pid] = image
            writer.saw_start(image, record if kind == "process" else None)
        image = images.get(pid)
        if image is None:
            continue
        if scope is not None and (image.pid, image.start) != scope:
            continue
        if kind == "event":
            subject = Subject(
                record["event"],
                record["args"],
                image,
                record["time"],
                record["thread"],
                lineage,
                seq=record["seq"],
                alerts=alerts,
            )
            if query.empty or query.holds(subject):
                writer.event(image, record)
        elif kind == "thread":
            thread, seq, name = record.get("thread"), record.get("seq"), record.get("name")
            if type(thread) is int and type(seq) is int and type(name) is str:
                image.name_thread(thread, seq, name)
        elif kind in ("dropped", "exit"):
            writer.later(image, record)
    return writer.finish()


class _ExportWriter:
    """Opens the file at the first event; writes each process's record before its first
    event, and its drops and exit after its last."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.recorder: Recorder | None = None
        self.count = 0
        self.starts: dict[int, dict[str, Any] | None] = {}
        self.written: list[Process] = []
        self.written_ids: set[int] = set()
        self.after: dict[int, list[dict[str, Any]]] = {}
        self.named: dict[tuple[int, int], str] = {}  # (image, thread) -> the name written

    def saw_start(self, image: Process, record: dict[str, Any] | None) -> None:
        self.starts[image.id] = record

    def event(self, image: Process, record: dict[str, Any]) -> None:
        if self.recorder is None:
            self.recorder = Recorder(self.path)
        if image.id not in self.written_ids:
            self.written_ids.add(image.id)
            self.written.append(image)
            start = self.starts.get(image.id)
            if start is not None:
                self.recorder.write_record(start)
            else:
                self.recorder.process_started(image)
        thread, seq = record["thread"], record["seq"]
        name = image.thread_name(thread, seq)
        if name is not None and self.named.get((image.id, thread)) != name:
            self.named[(image.id, thread)] = name
            self.recorder.threads_named(image, [(thread, seq, name)])
        self.recorder.write_record(record)
        self.count += 1

    def later(self, image: Process, record: dict[str, Any]) -> None:
        self.after.setdefault(image.id, []).append(record)

    def finish(self) -> Exported:
        if self.recorder is None:
            return Exported(0, None)
        for image in self.written:
            for record in self.after.get(image.id, []):
                self.recorder.write_record(record)
        self.recorder.close()
        return Exported(self.count, self.path)
