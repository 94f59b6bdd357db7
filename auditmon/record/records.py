"""The records of a recording: ``process``, ``thread``, ``event``, ``dropped`` and
``exit``, and, when rules are loaded, ``alert`` and ``suppressed`` (see the README for
their fields), and the two encodings' names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditmon.model.alerts import Alert
from auditmon.model.process import Process

FORMAT = "auditmon-recording"
FORMAT_VERSION = 1


def is_jsonl(path: str | Path) -> bool:
    return str(path).endswith(".jsonl")


def process_record(process: Process) -> dict[str, Any]:
    return {
        "type": "process",
        "pid": process.pid,
        "ppid": process.ppid,
        "argv": process.argv,
        "executable": process.executable,
        "cwd": process.cwd,
        "python": process.python,
        "start": process.start,
        "agent": process.agent,
        **({"startup": True} if process.startup_seen else {}),
        **({} if process.monitored else {"monitored": False, "reason": process.error}),
    }


def event_record(pid: int, event: list[Any]) -> dict[str, Any]:
    seq, when, thread, name, args, stack = event
    record = {
        "type": "event",
        "pid": pid,
        "seq": seq,
        "time": when,
        "thread": thread,
        "event": name,
        "args": args,
    }
    if stack is not None:
        record["stack"] = stack
    return record


def thread_record(pid: int, thread: int, seq: int, name: str) -> dict[str, Any]:
    """A thread's name, for its events from ``seq`` on; before the first of them."""
    return {"type": "thread", "pid": pid, "thread": thread, "seq": seq, "name": name}


def dropped_record(pid: int, count: int) -> dict[str, Any]:
    return {"type": "dropped", "pid": pid, "count": count}


def exit_record(process: Process) -> dict[str, Any]:
    """A process's end; ``ring`` and ``cut`` only where its events came through a ring
    (readers of earlier recordings know neither: a process without them had none)."""
    record = {
        "type": "exit",
        "pid": process.pid,
        "time": process.end_time,
        "exit_code": process.exit_code,
        "status": process.status,
    }
    if process.ring:
        record["ring"] = True
        if process.ring_cut:
            record["cut"] = process.ring_cut  # among its dropped records' counts
    return record


def alert_record(alert: Alert) -> dict[str, Any]:
    """An alert shown; ``pid`` and ``seq`` name the triggering event."""
    return {
        "type": "alert",
        "rule": alert.rule,
        "priority": alert.priority,
        "pid": alert.pid,
        "seq": alert.seq,
        "time": alert.time,
        "output": alert.output,
        "tags": list(alert.tags),
        "fields": dict(alert.fields),
    }


def suppressed_record(
    pid: int, rule: str, priority: str, count: int, time: float
) -> dict[str, Any]:
    """How many more times ``rule`` matched in ``pid`` without being shown (the
    throttle), the last at ``time``."""
    return {
        "type": "suppressed",
        "rule": rule,
        "priority": priority,
        "pid": pid,
        "count": count,
        "time": time,
    }
