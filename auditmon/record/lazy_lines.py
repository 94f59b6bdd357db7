"""JSON Lines event records read lazily at msgspec's pace, for ``Recording.chunks(lazy=True)``
(replay, report, diff): a block of lines decoded in one call into typed records, each
event's arguments kept as their JSON text (``msgspec.Raw``) until a reader asks for them
(``raw_arguments``, read then exactly as ``json.loads`` would).

Only what msgspec reads as ``json.loads`` does is taken from it: a line that is not an
event record, or holds what msgspec refuses (a number out of a float's range, a lone
surrogate, anything malformed), is handed back to be read the exact way, alone; a block
msgspec can't split into its lines (blank lines, a line it can't parse at all) is
handed back whole.
"""

from __future__ import annotations

import re
from itertools import groupby
from operator import attrgetter
from typing import Any, Literal, Union

import msgspec

from auditmon.record.json_values import from_json
from auditmon.record.jsonl import has_tags, parse_line


class _EventLine(msgspec.Struct, gc=False):
    """An event record's line; any other record fails ``type`` (or a missing field)."""

    type: Literal["event"]
    pid: Any
    seq: Any
    time: Any
    thread: Any
    event: Any
    args: msgspec.Raw
    stack: Any = None


_DECODER = msgspec.json.Decoder(_EventLine)
_pid_of = attrgetter("pid")
_event_of = attrgetter("seq", "time", "thread", "event", "args", "stack")
_WHERE = re.compile(r"- at `\$\[(\d+)\]")
# How our writer starts an event record's line, and the start of any other record's (a
# literal first: the search runs at C speed).
_EVENT_START = b'{"type":"event",'
_NEXT_EVENT = b"\n" + _EVENT_START
_OTHER_RECORD = re.compile(rb'\n\{"type":"(?!event",)')

# The arguments read lately, by their JSON text (raw_arguments).
_ARGUMENTS: dict[bytes, Any] = {}
_ARGUMENTS_KEPT = 4096
_ARGUMENTS_KEPT_SIZE = 2048

#: ``("events", pid, events)``: consecutive events of one process, their args Raw;
#: ``("line", text)``: one line to read the exact way.
Piece = Union[tuple[str, Any, Any], tuple[str, bytes]]


def pieces(block: bytes) -> list[Piece] | None:
    """``block``'s lines (newline-separated, none blank) in order, as pieces; None where
    the block is to be read the exact way whole."""
    if not block or block[:1] == b"\n" or block[-1:] == b"\n":
        return None
    found: list[Piece] = []
    try:  # the usual block: event records only, one a line (msgspec skips blank lines)
        lines = _DECODER.decode_lines(block)
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    else:
        if len(lines) == block.count(b"\n") + 1:
            _runs(lines, found)
            return found
    if b"\n\n" in block:
        return None
    view = memoryview(block)  # slices of it copy nothing
    at = 0  # where the lines not yet taken start
    others: list[int] = []  # where records of another type start, if any
    if block.count(_NEXT_EVENT) != block.count(b"\n"):
        others = [m.start() + 1 for m in _OTHER_RECORD.finditer(block)]
    if not block.startswith(_EVENT_START):
        others.insert(0, 0)
    for start in others:  # records of another type, as our writer writes them
        if start > at and not _events(view, block, at, start - 1, found):
            return None
        end = block.find(b"\n", start)
        end = len(block) if end < 0 else end
        found.append(("line", block[start:end]))
        at = end + 1
    if at < len(block) and not _events(view, block, at, len(block), found):
        return None
    return found


def _events(view: memoryview, block: bytes, at: int, stop: int, found: list[Piece]) -> bool:
    """The lines of ``block[at:stop]``, event records by their start, into ``found``:
    those msgspec refuses as lines to read the exact way; False where it can't split
    them (the block is then read the exact way whole)."""
    while at < stop:
        try:
            _runs(_DECODER.decode_lines(view[at:stop]), found)
            return True
        except msgspec.ValidationError as error:
            where = _WHERE.search(str(error))
            if where is None:
                return False
            index = int(where.group(1))
        except msgspec.DecodeError:
            return False
        start = _line_start(block, at, index)
        end = block.find(b"\n", start, stop)
        end = stop if end < 0 else end
        if start > at:
            _runs(_DECODER.decode_lines(view[at : start - 1]), found)
        found.append(("line", block[start:end]))
        at = end + 1
    return True


def raw_arguments(args: msgspec.Raw) -> Any:
    """An event's arguments, from their JSON text, as ``json.loads`` and ``from_json``
    read them.  A program repeats its arguments (a file opened again, an import's
    sys.path): the values of short texts are kept (and shared: readers never change
    them)."""
    text = bytes(args)
    value = _ARGUMENTS.get(text)
    if value is None:
        value = parse_line(text)
        if has_tags(text):
            value = from_json(value)
        if len(text) <= _ARGUMENTS_KEPT_SIZE:
            if len(_ARGUMENTS) >= _ARGUMENTS_KEPT:
                _ARGUMENTS.clear()
            _ARGUMENTS[text] = value
    return value


def _runs(lines: list[_EventLine], found: list[Piece]) -> None:
    if not lines:
        return
    pids = list(map(_pid_of, lines))
    if pids.count(pids[0]) == len(pids):  # the usual block: one process's
        found.append(("events", pids[0], list(map(_event_of, lines))))
        return
    for pid, run in groupby(lines, _pid_of):
        found.append(("events", pid, list(map(_event_of, run))))


def _line_start(text: bytes, at: int, index: int) -> int:
    """Where line ``index`` (from 0) of ``text[at:]`` starts, in ``text``."""
    for _ in range(index):
        at = text.index(b"\n", at) + 1
    return at
