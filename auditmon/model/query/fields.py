"""The fields an expression can look at: the event's, its arguments' and its process's.

A field reads a ``Subject``.  Where the subject does not carry what the field needs
(the arguments, when a whole group of events is judged at once; the time), it reads
``UNKNOWN``, and the expression's logic carries that through (see ``compile``).

Names:

* the event: ``event`` (also ``name``, ``evt.name``), ``category`` (``cat``), ``risk``
  (of this occurrence: an ``open`` for writing is a warning), ``thread``;
* its arguments: by position ``arg0``, ``arg1``… (``evt.arg[0]``), by the catalog's
  names (``path``, ``mode``…; ``arg.NAME`` where a name is also a process field), and
  ``args``, all of them as one text;
* its process: ``pid`` and ``ppid``, and ``proc.pid``, ``proc.ppid``, ``proc.name``
  (the program's base name), ``proc.exe``, ``proc.cmdline``, ``proc.args`` (argv, a
  list), ``proc.cwd``, ``proc.python``, ``proc.agent``, ``proc.aname`` and
  ``proc.acmdline`` (the ancestors', lists, nearest first), ``proc.age`` (seconds from
  the process's start to the event).
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


class _Unknown:
    """What a field reads where the subject lacks what it needs."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


class Subject:
    """One event (``args`` and ``time`` known), or every event of one name in one
    process with the same arguments (``time`` None), or all of them (``args`` None)."""

    __slots__ = ("name", "args", "process", "time", "thread", "lineage")

    def __init__(
        self,
        name: str,
        args: Sequence[Any] | None,
        process: Process,
        time: float | None = None,
        thread: int | None = None,
        lineage: Callable[[Process], list[Process]] | None = None,
    ) -> None:
        self.name = name
        self.args = args
        self.process = process
        self.time = time
        self.thread = thread
        self.lineage = lineage  # the process's ancestors, nearest first


@dataclass(frozen=True)
class Field:
    """How to read one field; ``needs`` says what of the subject it reads beyond the
    event's name and process ("args", "time", or "" for nothing more)."""

    name: str
    read: Callable[[Subject], Any]
    needs: str = ""
    ordered: tuple[str, ...] = ()  # ranks for < and >, where the values are levels
    listed: bool = False  # a list: an operator holds if it holds for any item


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
    return [text] if readable is None or readable == text else [text, readable]


def _positional(index: int, catalog: Catalog) -> Field:
    def read(subject: Subject) -> Any:
        args = subject.args
        if args is None:
            return UNKNOWN
        if index >= len(args):
            return None
        info = catalog.get(subject.name)
        argument = info.args[index] if info is not None and index < len(info.args) else None
        return renderings(subject.name, argument, args[index])

    return Field(f"arg{index}", read, needs="args", listed=True)


def _named(argument: str, catalog: Catalog) -> Field:
    positions: dict[str, int | None] = {}

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
        return renderings(name, argument, args[index]) if index < len(args) else None

    return Field(argument, read, needs="args", listed=True)


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
