"""Exporting part of a session (what a view shows) as a recording of its own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from auditmon.model.process import Process
from auditmon.model.session import Occurrence
from auditmon.record.writer import Recorder


def write_export(
    path: str | Path, occurrences: Iterable[Occurrence], processes: Mapping[int, Process]
) -> int:
    """Write ``occurrences`` (by time) with the ``process`` record of each process they
    come from (``processes`` by Process id) to ``path``; return how many were written."""
    ordered = sorted(occurrences, key=lambda o: (o.time, o.seq))
    exporter = Recorder(path)
    written: set[int] = set()
    try:
        for occurrence in ordered:
            process = processes[occurrence.process_id]
            if process.id not in written:
                written.add(process.id)
                exporter.process_started(process)
            exporter.events(
                process,
                [
                    [
                        occurrence.seq,
                        occurrence.time,
                        occurrence.thread,
                        occurrence.event,
                        list(occurrence.args),
                        occurrence.stack,
                    ]
                ],
            )
    finally:
        exporter.close()
    return len(ordered)
