"""The fields an expression can look at: the event's, its arguments' and its process's.

A field reads a ``Subject``.  Where the subject does not carry what the field needs
(the arguments, when a whole group of events is judged at once; the time), it reads
``UNKNOWN``, and the expression's logic carries that through (see ``compile``).

Names:

* the event: ``event`` (also ``name``, ``evt.name``), ``category`` (``cat``), ``risk``
  (of this occurrence: an ``open`` for writing is a warning), ``thread`` (its ident)
  and ``thread.name`` (its ``threading`` name, where the agent could tell it);
* its arguments: by position ``arg0``, ``arg1``… (``evt.arg[0]``), by the catalog's
  names (``path``, ``mode``…; ``arg.NAME`` where a name is also a process field), and
  ``args``, all of them as one text;
* its process: ``pid`` and ``ppid``, and ``proc.pid``, ``proc.ppid``, ``proc.name``
  (the program's base name), ``proc.exe``, ``proc.cmdline``, ``proc.args`` (argv, a
  list), ``proc.cwd``, ``proc.python``, ``proc.agent``, ``proc.aname`` and
  ``proc.acmdline`` (the ancestors', lists, nearest first), ``proc.age`` (seconds from
  the process's start to the event);
* worked out from the arguments, whichever event carries them (``derived``, registered
  by ``derived_fields``):
  ``file.path`` (the file acted on, absolute), ``file.name``, ``file.dir``,
  ``file.read``, ``file.written``, ``file.src``; ``evt.is_open_read`` and
  ``evt.is_open_write`` (``true``/``false``); ``net.host``, ``net.port``, ``net.url``,
  ``net.scope`` (unix, loopback, private, link-local, unspecified, public, name),
  ``net.domains``; ``spawn.exe``, ``spawn.name``, ``spawn.args``, ``spawn.cmdline``,
  ``spawn.env`` (KEY=VALUE, where given); ``loader.libraries`` (what ``os.putenv`` or a
  program started sets LD_PRELOAD or LD_AUDIT to, auditmon's own preload library left
  out); ``code.file`` (of an ``exec``'d code object);
* of the one occurrence (rules only, as they see each event): ``evt.seq``,
  ``evt.time``, ``frame`` (``file:line (function)`` of the innermost frame outside the
  standard library, where a stack was captured) and ``frame.file``, ``frame.line``,
  ``frame.function``; ``stack.file``, ``stack.line``, ``stack.function`` (the innermost
  frame), ``stack.is_stdlib`` (whether that frame is the standard library's),
  ``stack.files`` (every frame's);
* the alerts raised on events like this one (same process, name and arguments):
  ``alert.rule`` (their rules' names), ``alert.priority`` (the highest).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from auditmon.catalog import RISK_LEVELS, Catalog, risk_for
from auditmon.model import decode, values
from auditmon.model.process import Process
from auditmon.model.query import derived


class _Unknown:
    """What a field reads where the subject lacks what it needs."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


class Subject:
    """One event (``args`` and ``time`` known), or every event of one name in one
    process with the same arguments (``time`` None), or all of them (``args`` None).

    A rule's subject carries the occurrence too: its ``seq`` and ``stack`` (where the
    agent captured one).  ``alerts``, where given, answers which rules alerted on events
    like this one (see ``auditmon.model.alerts.AlertBook.lookup``).  ``memo``, a dict
    where given, keeps the derived fields already worked out for it.
    """

    __slots__ = (
        "name",
        "args",
        "process",
        "time",
        "thread",
        "lineage",
        "stack",
        "seq",
        "alerts",
        "memo",
    )

    def __init__(
        self,
        name: str,
        args: Sequence[Any] | None,
        process: Process,
        time: float | None = None,
        thread: int | None = None,
        lineage: Callable[[Process], list[Process]] | None = None,
        stack: Sequence[Sequence[Any]] | None = None,
        seq: int | None = None,
        alerts: Callable[[Subject], Any] | None = None,
        memo: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.args = args
        self.process = process
        self.time = time
        self.thread = thread
        self.lineage = lineage  # the process's ancestors, nearest first
        self.stack = stack
        self.seq = seq
        self.alerts = alerts
        self.memo = memo  # derived fields worked out once for all the rules that ask


_NOT_YET = object()


def _remembered(s: Subject, key: str, work: Callable[[Subject], Any]) -> Any:
    """``work(s)``, worked out once per subject that keeps a memo."""
    memo = s.memo
    if memo is None:
        return work(s)
    found = memo.get(key, _NOT_YET)
    if found is _NOT_YET:
        found = memo[key] = work(s)
    return found


@dataclass(frozen=True)
class Field:
    """How to read one field; ``needs`` says what of the subject it reads beyond the
    event's name and process ("args", "time", or "" for nothing more)."""

    name: str
    read: Callable[[Subject], Any]
    needs: str = ""
    ordered: tuple[str, ...] = ()  # ranks for < and >, where the values are levels
    listed: bool = False  # a list: an operator holds if it holds for any item
    events: frozenset[str] | None = None  # the only events that carry it (None: any)
    rendered: bool = False  # an argument: a list of its text and its readable form


_ARG_PATTERN = re.compile(r"^(?:evt\.)?arg(?:(\d+)|\[(\d+)\])$")


def display(value: Any) -> str:
    """An argument value as the filter compares it: its display text, uncut."""
    return value if type(value) is str else values.display(value, 1 << 30)


def resolve(name: str, catalog: Catalog) -> Field:
    """The field called ``name``; KeyError with the reason where there is none."""
    fixed = _FIXED.get(name)
    if fixed is not None:
        return fixed
    if name in CATEGORY_NAMES:
        return Field("category", lambda s: catalog.category_for(s.name))
    found = _ARG_PATTERN.match(name)
    if found:
        return _positional(int(found.group(1) or found.group(2)), catalog)
    argument = name[4:] if name.startswith("arg.") else name
    if argument in _argument_names(catalog):
        return _named(argument, catalog)
    raise KeyError(f"unknown field {name!r}")


def _argument_names(catalog: Catalog) -> frozenset[str]:
    names = getattr(catalog, "_query_argument_names", None)
    if names is None:
        names = frozenset(a for info in catalog for a in info.args)
        catalog._query_argument_names = names  # type: ignore[attr-defined]
    return names


def renderings(event: str, argument: str | None, value: Any) -> list[str]:
    """An argument's value as the filter compares it: its text, and its readable form
    where there is one (``O_WRONLY|O_CREAT``, ``127.0.0.1:80``), either of which may
    match: what the UI shows can be typed back into a filter."""
    text = display(value)
    readable = decode.decoded(event, argument, value) if argument else None
    if readable is None and type(value) is bytes:
        readable = derived.text(value)  # b'LD_PRELOAD' also matches LD_PRELOAD
    return [text] if readable is None or readable == text else [text, readable]


def _positional(index: int, catalog: Catalog) -> Field:
    key = f"arg{index}"

    def work(subject: Subject) -> Any:
        args = subject.args
        if index >= len(args):  # type: ignore[arg-type]
            return None
        info = catalog.get(subject.name)
        argument = info.args[index] if info is not None and index < len(info.args) else None
        return renderings(subject.name, argument, args[index])  # type: ignore[index]

    def read(subject: Subject) -> Any:
        if subject.args is None:
            return UNKNOWN
        return _remembered(subject, key, work)

    return Field(f"arg{index}", read, needs="args", listed=True, rendered=True)


def _named(argument: str, catalog: Catalog) -> Field:
    positions: dict[str, int | None] = {}
    key = "arg." + argument

    def read(subject: Subject) -> Any:
        name = subject.name
        index = positions.get(name, -1)
        if index == -1:
            info = catalog.get(name)
            index = positions[name] = (
                info.args.index(argument) if info is not None and argument in info.args else None
            )
        if index is None:
            return None
        args = subject.args
        if args is None:
            return UNKNOWN
        if index >= len(args):
            return None
        memo = subject.memo
        if memo is None:
            return renderings(name, argument, args[index])
        found = memo.get(key, _NOT_YET)
        if found is _NOT_YET:
            found = memo[key] = renderings(name, argument, args[index])
        return found

    return Field(
        argument,
        read,
        needs="args",
        listed=True,
        events=_carrying(argument, catalog),
        rendered=True,
    )


def _carrying(argument: str, catalog: Catalog) -> frozenset[str]:
    """The catalog's events with an argument called ``argument``."""
    cache = getattr(catalog, "_query_carrying", None)
    if cache is None:
        cache = catalog._query_carrying = {}  # type: ignore[attr-defined]
    found = cache.get(argument)
    if found is None:
        found = cache[argument] = frozenset(i.name for i in catalog if argument in i.args)
    return found


def _read_risk(subject: Subject) -> Any:
    if subject.name in DYNAMIC_RISK:
        if subject.args is None:
            return UNKNOWN
        return risk_for(subject.name, subject.args)
    return risk_for(subject.name, ())


#: Events whose risk depends on their arguments (see ``auditmon.catalog.risk_for``).
DYNAMIC_RISK = frozenset({"open"})


def _all_args(subject: Subject) -> Any:
    if subject.args is None:
        return UNKNOWN
    return ", ".join(display(a) for a in subject.args)


def _ancestors(subject: Subject) -> list[Process]:
    return subject.lineage(subject.process) if subject.lineage is not None else []


def _age(subject: Subject) -> Any:
    if subject.time is None:
        return UNKNOWN
    return subject.time - subject.process.start


def _thread_name(subject: Subject) -> Any:
    """The name the agent sent for the event's thread (none where it could not tell)."""
    if subject.thread is None:
        return UNKNOWN
    return subject.process.thread_name(subject.thread, subject.seq)


def _program(process: Process) -> str:
    first = process.argv[0] if process.argv else process.executable
    return os.path.basename(first)


CATEGORY_NAMES = ("category", "cat", "evt.category")
_FIXED: dict[str, Field] = {}


def _register(names: Sequence[str], read: Callable[[Subject], Any], **kwargs: Any) -> None:
    for name in names:
        _FIXED[name] = Field(names[0], read, **kwargs)


_register(("event", "name", "evt.name"), lambda s: s.name)
_register(("risk", "evt.risk"), _read_risk, ordered=RISK_LEVELS)
_register(("thread", "evt.thread"), lambda s: s.thread if s.thread is not None else UNKNOWN)
_register(("thread.name", "evt.thread.name"), _thread_name)
_register(("args", "evt.args"), _all_args, needs="args")
_register(("pid", "proc.pid"), lambda s: s.process.pid)
_register(("ppid", "proc.ppid"), lambda s: s.process.ppid)
_register(("proc.name",), lambda s: _program(s.process))
_register(("proc.exe", "proc.executable"), lambda s: s.process.executable)
_register(("proc.cmdline",), lambda s: s.process.command)
_register(("proc.args", "proc.argv"), lambda s: list(s.process.argv), listed=True)
_register(("proc.cwd",), lambda s: s.process.cwd)
_register(("proc.python",), lambda s: s.process.python)
_register(("proc.agent",), lambda s: s.process.agent)
_register(("proc.aname",), lambda s: [_program(p) for p in _ancestors(s)], listed=True)
_register(("proc.acmdline",), lambda s: [p.command for p in _ancestors(s)], listed=True)
_register(("proc.age",), _age, needs="time")
