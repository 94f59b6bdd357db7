"""Answering the UI's requests from the session model (pure, but for the export's file)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from auditmon.model.query import Subject
from auditmon.model.session import Session
from auditmon.monitor.requests import (
    Answer,
    CellRequest,
    DetailRequest,
    ExportRequest,
    InventoryRequest,
    ProcessRequest,
    Request,
    TailRequest,
)
from auditmon.record.export import export_view
from auditmon.record.reader import Recording
from auditmon.report.document import scoped_inventory
from auditmon.views.detail import cell_detail, event_detail
from auditmon.views.process import process_detail
from auditmon.views.snapshot import View
from auditmon.views.tail import tail


def answer(session: Session, request: Request, now: float) -> Answer:
    """Answer a detail or cell request (an export: ``export_source`` and ``export``)."""
    if isinstance(request, DetailRequest):
        found = event_detail(session, request.name, request.view, top=request.top)
        return Answer(request, found)
    if isinstance(request, ProcessRequest):
        return Answer(request, process_detail(session, request.process_id))
    if isinstance(request, TailRequest):
        return Answer(request, tail(session, request.view, request.limit))
    if isinstance(request, CellRequest):
        found = cell_detail(session, request.category, request.second, request.view)
        return Answer(request, found)
    raise TypeError(f"not a request answered from the model: {request!r}")


def scope_of(session: Session, view: View) -> tuple[int, float] | None:
    """The process image a view is scoped to, as a recording names it (pid, start)."""
    if view.process_id is None or view.process_id not in session.processes:
        return None
    process = session.processes[view.process_id].process
    return process.pid, process.start


def alerts_by_image(session: Session) -> Callable[[Subject], Any]:
    """The session's ``alert.rule`` answers for a recording's process images, which an
    export numbers its own way: matched by pid and start (built on the monitor's
    thread; the export's thread only reads the book's dictionaries)."""
    ids = {(t.process.pid, t.process.start): t.process.id for t in session.processes.values()}
    book = session.alerts

    def lookup(subject: Subject) -> Any:
        process_id = ids.get((subject.process.pid, subject.process.start))
        return {} if process_id is None else book.lookup_in(process_id, subject.name, subject.args)

    return lookup


def export(
    request: ExportRequest,
    source: Iterable[dict[str, Any]],
    scope: tuple[int, float] | None,
    cut: str | None,
    alerts: Callable[[Subject], Any] | None = None,
) -> Answer:
    """Write what the view selects in ``source``; the answer is an ``Exported``."""
    try:
        done = export_view(source, request.path, request.view.filter, scope, alerts)
        cut = cut or getattr(source, "cut", None)
    except OSError as error:
        return Answer(request, error=f"cannot write {request.path}: {error.strerror or error}")
    except ValueError as error:
        return Answer(request, error=f"cannot read the session back: {error}")
    return Answer(request, done if cut is None else replace(done, cut=cut))


def inventory(
    request: InventoryRequest, source: Recording, scope: tuple[int, float] | None
) -> Answer:
    """What the view's scope touched, read back from the session's recording."""
    try:
        found, _ = scoped_inventory(source, scope)
    except ValueError as error:
        return Answer(request, error=f"cannot read the session back: {error}")
    return Answer(request, found)
