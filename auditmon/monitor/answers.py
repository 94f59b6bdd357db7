"""Answering the UI's requests from the session model (pure, but for the export's file)."""

from __future__ import annotations

from auditmon.model.process import Process
from auditmon.model.session import Occurrence, Session
from auditmon.monitor.requests import Answer, CellRequest, DetailRequest, ExportRequest, Request
from auditmon.record.export import write_export
from auditmon.views import snapshot
from auditmon.views.detail import cell_occurrences, event_detail
from auditmon.views.snapshot import View


def answer(session: Session, request: Request, now: float) -> Answer:
    """Answer a detail or cell request (exports: ``export_selection``, then ``export``)."""
    if isinstance(request, DetailRequest):
        return Answer(request, event_detail(session, request.name, request.view))
    if isinstance(request, CellRequest):
        found = cell_occurrences(session, request.category, request.second, request.view)
        return Answer(request, found)
    if isinstance(request, ExportRequest):
        return export(request, *export_selection(session, request.view, now))
    raise TypeError(f"not a request: {request!r}")


def export_selection(
    session: Session, view: View, now: float
) -> tuple[list[Occurrence], dict[int, Process]]:
    """The kept occurrences a view shows, and the processes they come from: what an
    export writes (taken from the model at once; the file is written afterwards)."""
    names = [row.name for row in snapshot.build(session, view, now).events]
    occurrences: list[Occurrence] = []
    for name in names:
        occurrences.extend(event_detail(session, name, view, limit=10**9).occurrences)
    processes = {t.process.id: t.process for t in session.processes.values()}
    return occurrences, processes


def export(
    request: ExportRequest, occurrences: list[Occurrence], processes: dict[int, Process]
) -> Answer:
    """Write the selection; the answer is the count written, or why nothing was."""
    try:
        return Answer(request, write_export(request.path, occurrences, processes))
    except OSError as error:
        return Answer(request, error=f"cannot write {request.path}: {error.strerror or error}")
