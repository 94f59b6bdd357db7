"""The fields worked out for rules (see ``derived`` for how), registered beside the
basic ones of ``fields``: the file, host and program an event names, whichever event
carries them; the occurrence's own (its seq, time, stack and frame: rules only); and the
alerts raised on events like it.  Importing ``auditmon.model.query`` registers them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from auditmon.model.priority import ASCENDING, severity
from auditmon.model.query import derived
from auditmon.model.query.fields import _NOT_YET, UNKNOWN, Subject, _register


# -- derived from the arguments (see ``derived``) -----------------------------------------
def _from_args(
    names: Sequence[str], events: frozenset[str], work: Callable[[Subject], Any], **kwargs: Any
) -> None:
    """A field only ``events`` carry: None for any other event (so a group of them is
    decided without its arguments), UNKNOWN where the arguments are not at hand."""

    key = names[0]

    def read(s: Subject) -> Any:
        if s.name not in events:
            return None
        if s.args is None:
            return UNKNOWN
        memo = s.memo
        if memo is None:
            return work(s)
        found = memo.get(key, _NOT_YET)
        if found is _NOT_YET:
            found = memo[key] = work(s)
        return found

    _register(names, read, needs="args", events=events, **kwargs)


def _file(reader: Callable[[str, Sequence[Any], str | None], str | None]) -> Callable:
    return lambda s: reader(s.name, s.args, s.process.cwd)


def _part(reader: Callable, part: Callable[[str], str]) -> Callable:
    def read(s: Subject) -> Any:
        found = reader(s.name, s.args, s.process.cwd)
        return part(found) if found else None

    return read


def _true_false(value: bool) -> str:
    return "true" if value else "false"


def _peer(index: int) -> Callable[[Subject], Any]:
    return lambda s: derived.peer(s.name, s.args)[index]


def _spawn(part: Callable[[tuple[str, list[str], list[str] | None]], Any]) -> Callable:
    def read(s: Subject) -> Any:
        found = derived.spawned(s.name, s.args)
        return part(found) if found is not None else None

    return read


_E = derived.EVENTS
_from_args(("file.path", "fd.name"), _E["file.path"], _file(derived.file_path))
_from_args(
    ("file.name", "fd.filename"), _E["file.path"], _part(derived.file_path, os.path.basename)
)
_from_args(("file.dir", "fd.directory"), _E["file.path"], _part(derived.file_path, os.path.dirname))
_from_args(("file.src",), _E["file.src"], _file(derived.file_src))
_from_args(("file.read",), _E["file.read"], _file(derived.file_read))
_from_args(("file.written",), _E["file.written"], _file(derived.file_written))
_from_args(
    ("evt.is_open_write",), _E["open"], lambda s: _true_false(derived.opens_for_writing(s.args))
)
_from_args(
    ("evt.is_open_read",), _E["open"], lambda s: _true_false(not derived.opens_for_writing(s.args))
)
_from_args(("net.host",), _E["net"], _peer(0))
_from_args(("net.port",), _E["net"], _peer(1))
_from_args(("net.url",), _E["net.url"], _peer(2))
_from_args(("net.scope",), _E["net"], lambda s: derived.scope(derived.peer(s.name, s.args)[0]))
_from_args(
    ("net.domains",),
    _E["net"],
    lambda s: derived.domains(derived.peer(s.name, s.args)[0]),
    listed=True,
)
_from_args(("spawn.exe",), _E["spawn"], _spawn(lambda f: f[0]))
_from_args(("spawn.name",), _E["spawn"], _spawn(lambda f: os.path.basename(f[0])))
_from_args(("spawn.args",), _E["spawn"], _spawn(lambda f: f[1]), listed=True)
_from_args(("spawn.cmdline",), _E["spawn"], _spawn(lambda f: " ".join(f[1])))
_from_args(("spawn.env",), _E["spawn"], _spawn(lambda f: f[2]), listed=True)
_from_args(
    ("loader.libraries",),
    _E["loader"],
    lambda s: derived.loader_libraries(s.name, s.args),
    listed=True,
)
_from_args(("code.file",), _E["code"], lambda s: derived.code_file(s.args[0]) if s.args else None)


# -- the occurrence: rules only ------------------------------------------------------------
def _occurrence(read: Callable[[Subject], Any]) -> Callable[[Subject], Any]:
    """UNKNOWN for a group of events (no time): only one occurrence has these."""
    return lambda s: UNKNOWN if s.time is None else read(s)


def _frame_part(index: int, innermost: bool) -> Callable[[Subject], Any]:
    def read(s: Subject) -> Any:
        frame = (s.stack[0] if s.stack else None) if innermost else derived.program_frame(s.stack)
        return frame[index] if frame and len(frame) > index else None

    return _occurrence(read)


def _iso_time(s: Subject) -> str:
    return datetime.fromtimestamp(s.time, timezone.utc).isoformat()  # type: ignore[arg-type]


_register(("evt.seq", "seq"), _occurrence(lambda s: s.seq), needs="time")
_register(("evt.time",), _occurrence(_iso_time), needs="time")
_register(
    ("frame",),
    _occurrence(lambda s: derived.frame_text(derived.program_frame(s.stack))),
    needs="time",
)
_register(("frame.file",), _frame_part(0, False), needs="time")
_register(("frame.line",), _frame_part(1, False), needs="time")
_register(("frame.function",), _frame_part(2, False), needs="time")
_register(("stack.file",), _frame_part(0, True), needs="time")
_register(("stack.line",), _frame_part(1, True), needs="time")
_register(("stack.function",), _frame_part(2, True), needs="time")
_register(
    ("stack.is_stdlib",),
    _occurrence(lambda s: _true_false(derived.in_stdlib(str(s.stack[0][0]))) if s.stack else None),
    needs="time",
)
_register(
    ("stack.files",),
    _occurrence(lambda s: [f[0] for f in s.stack if f] if s.stack else None),
    needs="time",
    listed=True,
)


# -- alerts ------------------------------------------------------------------------------
def _alerted(s: Subject) -> Any:
    """{rule: priority} of the alerts on events like this one; None where there are none
    or nobody keeps alerts."""
    if s.alerts is None:
        return None
    found = s.alerts(s)
    return found if found is UNKNOWN else (found or None)


def _alert_rules(s: Subject) -> Any:
    found = _alerted(s)
    return found if found is None or found is UNKNOWN else list(found)


def _alert_priority(s: Subject) -> Any:
    found = _alerted(s)
    if found is None or found is UNKNOWN:
        return found
    return max(found.values(), key=severity)


_register(("alert.rule",), _alert_rules, needs="alerts", listed=True)
_register(("alert.priority",), _alert_priority, needs="alerts", ordered=ASCENDING)
