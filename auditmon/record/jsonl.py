"""JSON Lines at the agent's pace: a C renderer and orjson write the lines, orjson parses
them, and the standard library's ``json`` stays the definition of the format.

``reference_line`` is the format (``to_json``, then ``json.dumps``).  ``EventLines``
gives the same bytes a batch at a time.  Where the batch's msgpack encoding is at hand,
the C renderer (``native/lines.c``, built with the package) writes its lines straight
from those bytes, unless the batch holds what only the Python path writes exactly (it
says which).  The Python path: one orjson call renders the batch's records as a
JSON array (record dicts reused from batch to batch, ``to_json`` as orjson's
``default`` for the tagged values), and the array's record separators become newlines.
orjson renders everything else as the reference does, except for what the batch is
checked for afterwards, falling back to one record at a time where it finds any:

* floats that orjson writes in another form: non-finite ones (orjson writes ``null``,
  the reference a ``$float`` tag) and those from 1e-9 to 1e-4 in magnitude (``0.00001``
  for ``1e-05``, ``1e-6`` for ``1e-06``), looked for in the batch's msgpack encoding as
  it arrived (``_ODD_FLOATS``, by their exponent's bytes; where it finds some, in the
  values of the events where they are);
* dicts in the arguments, which ``to_json`` may have to tag (non-string keys, keys that
  start with ``$``), seen as more ``{`` in the output than records and tags have (and
  a cut value's kept dicts that hold the record separator, counted so);
* what orjson refuses: ints wider than 64 bits, strings with lone surrogates.

One record at a time, a record whose values hold none of those goes through orjson and
any other through the reference.  Parsing likewise hands orjson only the lines it reads
exactly: not those with a run of 19 digits or more (orjson reads an int that wide as a
float) and not those orjson rejects (surrogates, as ``surrogatepass`` writes them).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

import msgpack
import orjson

from auditmon import protocol
from auditmon.record.json_values import from_json, to_json

try:
    from auditmon.record._native_lines import render as _render_native
except ImportError:  # not built (no compiler at install): the Python path writes them all
    _render_native = None

#: Whether this install has the C renderer.
NATIVE = _render_native is not None

# In a batch's msgpack encoding: a float64 or float32 whose exponent says it may be one
# that orjson writes unlike the reference: NaN or infinite (all exponent bits set), or
# from about 5.8e-11 to 1.2e-4 in magnitude (float64: biased exponents 989-1009; float32:
# 94-113).  Only the first bytes after the type byte are looked at: a superset, which
# the values then decide.  (A literal first byte keeps the scan at C speed.)
_ODD_FLOATS = (
    re.compile(
        rb"\xcb(?:[\x7f\xff][\xf0-\xff]|[\x3e\xbe]|[\x3d\xbd][\xd0-\xff]|[\x3f\xbf][\x00-\x1f])"
    ),
    re.compile(rb"\xca(?:[\x7f\xff][\x80-\xff]|[\x2f-\x38\xaf-\xb8])"),
)
# In JSON text: an integer orjson would read as a float (or a long digit run in a string),
# found as 19 zeros once every digit is a zero (cheaper than a regular expression).
_DIGITS_AS_ZEROS = bytes.maketrans(b"0123456789", b"0" * 10)
_WIDE_RUN = b"0" * 19
_TAG = b'{"$'
_SEPARATOR = b'},{"type":"event","pid":'
_LINE_BREAK = b'}\n{"type":"event","pid":'
_OPTIONS = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
_RENDERINGS_KEPT = 4096  # of each kind, the cut values' of 1 KiB at most
_RENDERING_KEPT_SIZE = 1024
_TEMPLATE = {"type": "event", "pid": 0, "seq": 0, "time": 0.0, "thread": 0, "event": "", "args": ()}


def reference_line(record: dict[str, Any]) -> bytes:
    """A record's line as the standard library writes it: the definition of the format."""
    if record.get("type") == "event":
        record = {**record, "args": to_json(record["args"])}
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8", "surrogatepass") + b"\n"


def record_line(record: dict[str, Any]) -> bytes:
    """A record's line (any type): the reference's bytes, from orjson where it gives them."""
    if record.get("type") == "event" and _plain(record["args"]) and _plain(record.get("stack")):
        if _plain(record.get("time")):
            try:
                return orjson.dumps(
                    record, default=to_json, option=_OPTIONS | orjson.OPT_APPEND_NEWLINE
                )
            except TypeError:
                pass
    return reference_line(record)


class EventLines:
    """Renders batches of event records as JSON Lines (see the module's docstring).
    Keeps its record dicts between batches: one per recorder.  ``native``: whether
    ``lines`` tries the C renderer first (tests turn it off to reach the Python path)."""

    def __init__(self, native: bool = NATIVE) -> None:
        self.native = native and NATIVE
        self._records: list[dict[str, Any]] = []
        self._pid: int | None = None
        self._objects = 0  # the objects orjson's default has rendered in this batch
        self._described: dict[str, Any] = {}  # a description's text -> its rendering
        self._cuts: dict[int, Any] = {}  # id(cut) -> (cut, its objects, its Fragment)

    def lines(
        self, pid: int, events: Sequence[Sequence[Any]], raw: bytes | bytearray | None = None
    ) -> bytes:
        """The lines of ``pid``'s ``events`` (``[seq, time, thread, event, args, stack]``);
        ``raw``, if given, is the batch's msgpack encoding as it arrived."""
        if not events:
            return b""
        text = native_lines(pid, raw) if raw is not None and self.native else None
        return text if text is not None else self._python_lines(pid, events, raw)

    def wire_lines(self, pid: int, raw: bytes | bytearray) -> bytes:
        """The lines of ``pid``'s events from their msgpack encoding alone (the helper
        process's case): decoded only where the C renderer leaves them to the Python
        path."""
        text = native_lines(pid, raw) if self.native else None
        return text if text is not None else self._python_lines(pid, protocol.unpackb(raw), raw)

    def _python_lines(
        self, pid: int, events: Sequence[Sequence[Any]], raw: bytes | bytearray | None
    ) -> bytes:
        if raw is not None and plain_floats(raw):
            rendered = self.render(pid, events)
            if rendered is not None:
                text = batch_lines(*rendered, len(events))
                if text is not None:
                    return text
        return one_by_one(pid, events)

    def render(self, pid: int, events: Sequence[Sequence[Any]]) -> tuple[bytes, int] | None:
        """The first half of a batch's lines: orjson's rendering of its records as an
        array, and how many objects its ``default`` rendered; None where orjson refuses.
        ``batch_lines`` checks it and makes lines of it, here or in another process."""
        count = len(events)
        records = self._records
        while len(records) < count:
            records.append(dict(_TEMPLATE, pid=pid))
        if pid != self._pid:
            for record in records:
                record["pid"] = pid
            self._pid = pid
        batch = records if len(records) == count else records[:count]
        stacks = False
        for record, (seq, when, thread, name, args, stack) in zip(batch, events):
            record["seq"] = seq
            record["time"] = when
            record["thread"] = thread
            record["event"] = name
            record["args"] = args
            if stack is not None:
                record["stack"] = stack
                stacks = True
        self._objects = 0
        try:
            return orjson.dumps(batch, default=self._tagged, option=_OPTIONS), self._objects
        except TypeError:  # a wide int, a lone surrogate, a non-string dict key
            return None
        finally:
            if stacks:
                for record in batch:
                    record.pop("stack", None)

    def _tagged(self, value: Any) -> Any:
        """orjson's ``default``: ``to_json``'s tagged rendering, its objects counted.
        The renderings of descriptions and cut values are kept, by the text and by the
        value itself: the monitor's decoder hands the same object for a repeated one
        (protocol.ext_hook), and they never change."""
        t = type(value)
        if t is protocol.Described:
            rendered = self._described.get(value.text)
            if rendered is None:
                rendered = self._keep(self._described, value.text, to_json(value))
            self._objects += 1
            return rendered
        if t is protocol.Cut:  # its kept part may hold tags of its own
            kept = self._cuts.get(id(value))  # (it holds the value: the id stays its)
            if kept is None:
                text = orjson.dumps(to_json(value), option=_OPTIONS)
                # Its dicts are written as they are: one that reads like the start of
                # the next record counts an object more than it has, so that the batch
                # is written a record at a time (no line is split where it is).
                braces = text.count(b"{") + (_SEPARATOR in text)
                kept = (value, braces, orjson.Fragment(text))
                if len(text) <= _RENDERING_KEPT_SIZE:
                    self._keep(self._cuts, id(value), kept)
            self._objects += kept[1]
            return kept[2]
        self._objects += 1
        return to_json(value)

    @staticmethod
    def _keep(cache: dict[Any, Any], key: Any, value: Any) -> Any:
        """``cache[key] = value``, the cache emptied first when full."""
        if len(cache) >= _RENDERINGS_KEPT:
            cache.clear()
        cache[key] = value
        return value


def native_lines(pid: int, raw: bytes | bytearray) -> bytes | None:
    """The lines of ``pid``'s events from their msgpack encoding ``raw`` by the C
    renderer; None where it was not built, or where the batch holds what only the Python
    path writes as the reference does (a dict with other keys than plain strings, an
    int past 64 bits, a string that is not UTF-8, bytes that are no batch)."""
    return None if _render_native is None else _render_native(pid, raw)


def batch_lines(text: bytes, objects: int, count: int) -> bytes | None:
    """The lines of ``count`` records that ``EventLines.render`` rendered as ``text``
    (``objects``: the objects its ``default`` rendered), or None where orjson's rendering
    may not be the reference's (a dict among the values).  The caller has made sure
    that orjson writes every float of theirs as the reference does (``plain_floats``)."""
    if text.count(b"{") != count + objects:
        return None
    return text[1:-1].replace(_SEPARATOR, _LINE_BREAK) + b"\n"


def one_by_one(pid: int, events: Sequence[Sequence[Any]]) -> bytes:
    """The lines of ``pid``'s ``events``, a record at a time (what a batch falls back to)."""
    return b"".join(record_line(_record(pid, event)) for event in events)


def _record(pid: int, event: Sequence[Any]) -> dict[str, Any]:
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


def plain_floats(raw: bytes | bytearray) -> bool:
    """Whether orjson writes every float in the events of a batch's msgpack encoding
    as the reference does.  Their bytes are looked for in the encoding (``_ODD_FLOATS``);
    where some are found (a scan that false-alarms on a batch in a few, on an int's or
    a string's bytes, or on a float near the range), only the events where they are are
    decoded and looked into (``_plain``); the others are skipped over."""
    found = sorted(m.start() for p in _ODD_FLOATS for m in p.finditer(raw))
    if not found:
        return True
    unpacker = protocol.make_unpacker()
    unpacker.feed(raw)
    try:
        events = unpacker.read_array_header()
        start = unpacker.tell()
        at = 0  # the next place found
        for _ in range(events):
            unpacker.skip()
            end = unpacker.tell()
            if found[at] < end:  # in this event
                if found[at] >= start and not _plain(protocol.unpackb(raw[start:end])):
                    return False
                while at < len(found) and found[at] < end:
                    at += 1
                if at == len(found):
                    return True
            start = end
    except (ValueError, msgpack.UnpackException):
        return False  # (not a batch: then a record at a time)
    return True


def _plain(value: Any) -> bool:
    """Nothing in ``value`` that orjson renders unlike the reference: no dict, and no
    float that is not finite or is below 1e-4 in magnitude (zero aside)."""
    t = type(value)
    if t is list or t is tuple:
        for item in value:
            if not _plain(item):
                return False
        return True
    if t is float:
        return value == 0.0 or 1e-4 <= abs(value) < math.inf
    if t is protocol.Cut:
        return _plain(value.value)
    return t is not dict


def parse_line(line: bytes, checked: bool = False) -> Any:
    """One line's JSON value, exactly as ``json.loads`` reads it.  ``checked``: the caller
    has made sure the line has no run of 19 digits.  Raises ValueError on bad JSON."""
    if checked or not has_wide_int(line):
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            pass  # surrogates, or not JSON: the reference parser says which
    return json.loads(line.decode("utf-8", "surrogatepass"))


def parse_lines(text: bytes) -> list[Any] | None:
    """The JSON values of newline-separated lines in one orjson call, or None where that
    would not read them exactly as ``json.loads`` does (then read them one by one)."""
    if has_wide_int(text):
        return None
    try:
        values = orjson.loads(b"[" + text.replace(b"\n", b",") + b"]")
    except orjson.JSONDecodeError:
        return None
    return values if len(values) == text.count(b"\n") + 1 else None


def has_wide_int(data: bytes) -> bool:
    """Whether ``data`` may hold an integer orjson would not read exactly."""
    return _WIDE_RUN in data.translate(_DIGITS_AS_ZEROS)


def has_tags(data: bytes) -> bool:
    """Whether JSON text ``data`` may hold tagged values (``from_json`` has work)."""
    return _TAG in data


def event_args(line: bytes, args: Any) -> Any:
    """An event record's ``args`` as values: tags turned back, where the line has any."""
    return from_json(args) if _TAG in line else args
