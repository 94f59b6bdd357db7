"""The report as a document: a recording read into an ``InventoryBuilder`` and written
out in the versioned JSON shape of docs/report-schema.md; and a saved one read back.

Either side of ``auditmon diff`` may be a recording or such a saved report (``load``).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from auditmon.model.process import Process
from auditmon.record.reader import EventBatch, Recording
from auditmon.report.inventory import Inventory, InventoryBuilder
from auditmon.report.paths import Roots

SCHEMA = "auditmon-report"
VERSION = 1

#: (bytes read, bytes in all), now and then while a recording is read
Progress = Callable[[int, int], None]


class ReportError(ValueError):
    """Not a recording nor a saved report, or a report of another schema version."""


def read_report(path: str | Path, progress: Progress | None = None) -> dict[str, Any]:
    """The report of the recording at ``path`` (streamed: memory grows with what the run
    touched, not with its length).  Raises RecordingError for a damaged recording."""
    recording = Recording(path)
    builder = InventoryBuilder()
    images: dict[int, Process] = {}  # pid -> its latest image
    order: list[Process] = []
    size = recording.size
    collecting = gc.isenabled()
    # Reading makes no garbage cycles (only the builder, freed with it, has some): the
    # collector would walk the growing inventory again and again for nothing.
    gc.disable()
    try:
        _read(recording, builder, images, order, progress)
    finally:
        if collecting:
            gc.enable()
    if progress is not None:
        progress(size, size)
    return document(builder, order, path, recording.events, recording.cut)


def _read(
    recording: Recording,
    builder: InventoryBuilder,
    images: dict[int, Process],
    order: list[Process],
    progress: Progress | None,
) -> None:
    size = recording.size
    for number, item in enumerate(recording.chunks(lazy=True)):
        if type(item) is EventBatch:
            process = images.get(item.pid)
            if process is None:  # events with no process record before them
                process = _image(images, order, {"pid": item.pid})
                builder.process_started(process)
            builder.events(process, item.events, item.decode)
        else:
            _record(item, images, order, builder)
        if progress is not None and number % 64 == 0:
            progress(recording.position, size)


def _image(images: dict[int, Process], order: list[Process], hello: dict[str, Any]) -> Process:
    process = Process(id=len(order) + 1)
    process.apply_hello(hello)
    images[process.pid] = process
    order.append(process)
    return process


def _record(
    record: dict[str, Any], images: dict[int, Process], order: list[Process], builder: Any
) -> None:
    kind, pid = record.get("type"), record.get("pid")
    if kind == "process" and isinstance(pid, int):
        hello = {k: v for k, v in record.items() if k != "type"}
        builder.process_started(_image(images, order, hello))
    elif kind == "dropped" and pid in images and isinstance(record.get("count"), int):
        images[pid].dropped += record["count"]
    elif kind == "exit" and pid in images:
        process = images[pid]
        process.status = str(record.get("status") or "exited")
        process.exit_code = record.get("exit_code")
        process.end_time = record.get("time")
    elif kind == "alert":
        builder.alert(images.get(pid) if isinstance(pid, int) else None, record)
    # any other record type (a later auditmon's): nothing the inventory needs


def document(
    builder: InventoryBuilder,
    processes: list[Process],
    path: str | Path | None,
    events: int,
    cut: str | None,
) -> dict[str, Any]:
    """The report document: the recording, how paths are named, the processes and their
    trees, the inventory of them all and of each tree."""
    roots = builder.roots()
    trees = _trees(processes)
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "recording": {
            "path": str(path) if path is not None else None,
            "events": events,
            "processes": len(processes),
            "dropped": sum(p.dropped for p in processes),
            "cut": cut,
        },
        "roots": roots.listing(),
        "processes": [_process(p, roots, trees) for p in processes],
        "inventory": builder.inventory().to_json(),
        "trees": [
            {
                "root": root.pid,
                "command": roots.text(root.command),
                "pids": sorted({p.pid for p in members}),
                "inventory": builder.inventory([p.id for p in members]).to_json(),
            }
            for root, members in trees.values()
        ],
    }


def _trees(processes: list[Process]) -> dict[int, tuple[Process, list[Process]]]:
    """Process images by the root of their tree (the oldest ancestor that reported)."""
    first: dict[int, Process] = {}
    for process in processes:
        first.setdefault(process.pid, process)
    trees: dict[int, tuple[Process, list[Process]]] = {}
    for process in processes:
        root, seen = process, {process.pid}
        while root.ppid in first and root.ppid not in seen:
            root = first[root.ppid]
            seen.add(root.pid)
        trees.setdefault(root.id, (root, []))[1].append(process)
    return trees


def _process(
    process: Process, roots: Roots, trees: dict[int, tuple[Process, list[Process]]]
) -> dict[str, Any]:
    tree = next(root.pid for root, members in trees.values() if process in members)
    return {
        "pid": process.pid,
        "ppid": process.ppid,
        "argv": [roots.text(a) for a in process.argv],
        "executable": roots.path(process.executable) if process.executable else None,
        "cwd": roots.path(process.cwd) if process.cwd else None,
        "python": process.python or None,
        "agent": process.agent or None,
        "start": process.start,
        "end": process.end_time,
        "status": process.status,
        "exit_code": process.exit_code,
        "dropped": process.dropped,
        "tree": tree,
    }


def load(path: str | Path, progress: Progress | None = None) -> dict[str, Any]:
    """A saved ``auditmon report --json`` as it is, or a recording's report."""
    saved = _saved_report(Path(path))
    return saved if saved is not None else read_report(path, progress)


def _saved_report(path: Path) -> dict[str, Any] | None:
    with open(path, "rb") as file:
        head = file.read(1)
        if head.strip() != b"{" or path.suffix == ".jsonl":
            return None
        try:
            value = orjson.loads(head + file.read())
        except orjson.JSONDecodeError:
            return None  # JSON Lines by another name
    if not isinstance(value, dict) or "schema" not in value:
        return None
    if value.get("schema") != SCHEMA:
        raise ReportError(f"{path}: not an auditmon report (schema {value.get('schema')!r})")
    if value.get("version") != VERSION:
        raise ReportError(
            f"{path}: report schema version {value.get('version')!r}; "
            f"this auditmon reads version {VERSION}"
        )
    return value


def scoped_inventory(
    records: Recording, scope: tuple[int, float] | None = None
) -> tuple[Inventory, Roots]:
    """The inventory of a recording's processes, or of the one process image ``scope``
    names (pid, start), and how its paths were named: the live monitor's view of what
    a run touched, read back from its spool."""
    builder = InventoryBuilder()
    images: dict[int, Process] = {}
    order: list[Process] = []
    for item in records.chunks(lazy=True):
        if type(item) is EventBatch:
            process = images.get(item.pid)
            if process is None:
                process = _image(images, order, {"pid": item.pid})
                builder.process_started(process)
            builder.events(process, item.events, item.decode)
        else:
            _record(item, images, order, builder)
    if scope is None:
        return builder.inventory(), builder.roots()
    ids = [p.id for p in order if (p.pid, p.start) == scope]
    return builder.inventory(ids), builder.roots()
