"""What one process touched, as gathered so far: one ``ProcessLog`` per process image,
each distinct thing kept once with a ``Seen`` (how many events, the first few (pid, seq),
the first stack).  Memory grows with the number of distinct things, never with the
number of events, and each section stops at ``MAX_ITEMS`` (the rest counted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditmon.model.process import Process

MAX_REFS = 5
MAX_ITEMS = 50_000


class Seen:
    """How often something was seen, where first (pid, seq) and with what stack.
    (A plain class with slots: one is updated for nearly every event of a report.)"""

    __slots__ = ("count", "refs", "stack")

    def __init__(self) -> None:
        self.count = 0
        self.refs: list[tuple[int, int]] = []
        self.stack: Any = None

    def add(self, pid: int, seq: int, stack: Any, count: int = 1) -> None:
        self.count += count
        refs = self.refs
        if len(refs) < MAX_REFS:
            refs.append((pid, seq))
        if stack and self.stack is None:
            self.stack = stack


@dataclass
class ProcessLog:
    """The raw inventory of one process image (paths as they were, not yet named)."""

    process: Process
    cwd: str | None = None
    files: dict[str, dict[str, Seen]] = field(default_factory=dict)  # path -> op -> seen
    sockets: dict[tuple[str, str, str, Any], Seen] = field(default_factory=dict)
    names: dict[tuple[str, Any, str], Seen] = field(default_factory=dict)
    led_to: dict[tuple[str, Any, str], set[tuple[str, str, str, Any]]] = field(default_factory=dict)
    urls: dict[tuple[str, str], Seen] = field(default_factory=dict)
    commands: dict[tuple[Any, ...], Seen] = field(default_factory=dict)
    modules: dict[str, Seen] = field(default_factory=dict)
    module_files: dict[str, str] = field(default_factory=dict)  # module -> its file
    native_modules: set[str] = field(default_factory=set)
    code: dict[tuple[str, str, str], Seen] = field(default_factory=dict)
    code_text: dict[tuple[str, str, str], tuple[str, int]] = field(default_factory=dict)
    native: dict[tuple[str, str], Seen] = field(default_factory=dict)
    alerts: dict[tuple[str, str], Seen] = field(default_factory=dict)
    alert_details: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    env: dict[str, str | None] = field(default_factory=dict)  # putenv/unsetenv, in order
    overflow: int = 0
    # per thread: imports awaiting their module's code, a name awaiting its connection,
    # whether the latest event looked at was an import (its listings are the finder's)
    pending_imports: dict[int, list[str]] = field(default_factory=dict)
    pending_name: dict[int, tuple[str, Any, str]] = field(default_factory=dict)
    importing: dict[int, bool] = field(default_factory=dict)
    import_dirs: set[str] = field(default_factory=set)  # sys.path's and packages' directories
    sys_path: Any = None  # the latest import event's

    def full(self, section: dict[Any, Any]) -> bool:
        if len(section) >= MAX_ITEMS:
            self.overflow += 1
            return True
        return False


def end_import_listing(log: ProcessLog, event: Any) -> None:
    """Any event but an import or a listing ends the import system's listings."""
    if log.importing:
        log.importing.pop(event[2], None)
