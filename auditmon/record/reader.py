"""Reading a recording of either encoding back as single records, up to its last whole
record: a recording cut short (a process killed mid-write, a full disk) is read as far
as it goes, and says so."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

import msgpack

from auditmon import protocol
from auditmon.record.json_values import from_json
from auditmon.record.jsonl import has_tags, parse_line, parse_lines
from auditmon.record.lazy_lines import Piece, pieces, raw_arguments
from auditmon.record.records import FORMAT, FORMAT_VERSION, event_record, is_jsonl

_BLOCK = 1 << 20  # JSON Lines are read and split a mebibyte at a time
_event_fields = itemgetter("seq", "time", "thread", "event", "args")


class RecordingError(ValueError):
    """Not a recording, or one damaged before its end; the message says where."""


@dataclass
class EventBatch:
    """Consecutive events of one process, each ``[seq, time, thread, event, args,
    stack]`` (a list or a tuple; ``stack`` None when not captured), as the monitor's
    sinks take them."""

    pid: int
    events: list[Sequence[Any]]
    decode: Callable[[Any], Any] | None = None

    def arguments(self, event: Sequence[Any]) -> Any:
        """An event's ``args`` as values (``decode``, where ``chunks(lazy=True)`` left
        them in their JSON form or text, makes values of them)."""
        return event[4] if self.decode is None else self.decode(event[4])


class Recording:
    """The records of the recording at ``path``, header excluded, in order.

    Iterating gives one dict per record (events as ``event`` records); ``chunks`` gives
    the other records as dicts and events in batches, which is what a reader that keeps
    up with a long recording wants.  After reading, ``cut`` is None for a whole
    recording, else a sentence saying where it ends mid-record; ``events`` counts the
    events read; ``position`` is how many of the file's ``size`` bytes have been read
    (for a progress bar).  ``limit`` reads only the first that many bytes (a recording
    still being written, flushed that far).  Memory stays bounded however long the
    recording is.
    """

    def __init__(self, path: str | Path, limit: int | None = None) -> None:
        self.path = Path(path)
        self.limit = limit
        self.cut: str | None = None
        self.events = 0
        self.position = 0

    @property
    def size(self) -> int:
        size = os.path.getsize(self.path)
        return size if self.limit is None else min(size, self.limit)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for item in self.chunks():
            if type(item) is EventBatch:
                pid = item.pid
                for event in item.events:
                    yield event_record(pid, event)
            else:
                yield item

    def chunks(self, lazy: bool = False) -> Iterator[dict[str, Any] | EventBatch]:
        """Non-event records as dicts, events as ``EventBatch``es, in order.  ``lazy``:
        values as cheap to read as they come, for a reader that looks at few of them:
        msgpack arrays as tuples, and JSON Lines' arguments in their JSON form (see
        ``EventBatch.arguments``)."""
        self.cut, self.events, self.position = None, 0, 0
        if is_jsonl(self.path):
            return self._jsonl(lazy)
        return self._msgpack(lazy)

    def _open(self) -> IO[bytes]:
        file = open(self.path, "rb")
        if self.limit is None:
            return file
        return io.BufferedReader(_Limited(file, self.limit))

    def _jsonl(self, json_args: bool) -> Iterator[dict[str, Any] | EventBatch]:
        number = 0  # lines before the block
        with self._open() as file:
            for block, whole in _line_blocks(file):
                found = pieces(block) if json_args and whole else None
                if found is not None:
                    self.position += len(block) + whole
                    items, number = self._piece_items(found, number)
                    yield from items
                    continue
                records = parse_lines(block) if whole else None
                if records is None:  # read line by line, to say which one is wrong
                    records = list(self._jsonl_lines(block, whole, number))
                    exact = False
                else:
                    exact = True
                self.position += len(block) + whole
                items = self.block_items(records, has_tags(block), json_args)
                if type(items) is int:  # the index of a record that is not one
                    where = f"line {number + items + 1}" if exact else f"a line after {number}"
                    raise RecordingError(f"{self.path}: {where} is not a record")
                number += block.count(b"\n") + 1
                yield from items
        self.position = min(self.position, self.size)

    def _piece_items(
        self, found: list[Piece], before: int
    ) -> tuple[list[dict[str, Any] | EventBatch], int]:
        """A block's pieces (lazy_lines.pieces) as items, and the lines read so far;
        ``before``: the lines before the block."""
        items: list[dict[str, Any] | EventBatch] = []
        number = before
        for piece in found:
            if piece[0] == "events":
                _, pid, events = piece
                items.append(EventBatch(pid, events, raw_arguments))
                self.events += len(events)
                number += len(events)
                continue
            number += 1
            line = piece[1]
            try:
                record = parse_line(line)
            except ValueError as error:
                where = f"{self.path}: line {number}"
                raise RecordingError(f"{where} is not a record ({error})") from None
            one = self.block_items([record], has_tags(line), True)
            if type(one) is int:
                raise RecordingError(f"{self.path}: line {number} is not a record")
            items.extend(one)
        return items, number

    def block_items(
        self, records: list[Any], tagged: bool, json_args: bool
    ) -> list[dict[str, Any] | EventBatch] | int:
        """One block's records with its events in batches; or the index of a record that
        is not one."""
        items: list[dict[str, Any] | EventBatch] = []
        events: list[Any] = []
        pid = None
        convert = tagged and not json_args
        decode = from_json if tagged and json_args else None
        count = 0
        for record in records:
            if type(record) is not dict:
                return records.index(record)
            if record.get("type") != "event":
                items.append(record)
                pid = None
                continue
            try:
                fields = _event_fields(record)
                if record["pid"] != pid:
                    pid = record["pid"]
                    events = []
                    items.append(EventBatch(pid, events, decode))
            except KeyError:
                return records.index(record)
            if convert:
                fields = (*fields[:4], from_json(fields[4]))
            events.append((*fields, record.get("stack")))
            count += 1
        self.events += count
        return items

    def _jsonl_lines(self, block: bytes, whole: bool, before: int) -> Iterator[Any]:
        lines = block.split(b"\n")
        for number, line in enumerate(lines, before + 1):
            try:
                yield parse_line(line)
            except ValueError as error:
                if not line.strip():
                    continue
                if not whole and number == before + len(lines):  # the last line, unfinished
                    self.cut = self._cut_sentence()
                    return
                raise RecordingError(
                    f"{self.path}: line {number} is not a record ({error})"
                ) from None

    def _msgpack(self, lazy: bool) -> Iterator[dict[str, Any] | EventBatch]:
        with self._open() as file:
            unpacker = msgpack.Unpacker(file, use_list=not lazy, **_reader_options())
            try:
                header = next(unpacker, None)
            except Exception as error:
                reason = f"{self.path} is not an auditmon recording ({error})"
                raise RecordingError(reason) from None
            check_header(header, self.path)
            whole = unpacker.tell()  # just past the last whole record
            while True:
                try:
                    record = next(unpacker)
                except StopIteration:
                    break
                except (ValueError, msgpack.ExtraData, msgpack.FormatError) as error:
                    raise RecordingError(
                        f"{self.path}: damaged after {self.events:,} events ({error})"
                    ) from None
                if not isinstance(record, dict):
                    raise RecordingError(f"{self.path}: damaged after {self.events:,} events")
                whole = self.position = unpacker.tell()
                if record.get("type") == "events":
                    events = record["events"]
                    self.events += len(events)
                    yield EventBatch(record["pid"], events)
                else:
                    yield record
            if whole < self.size:
                self.cut = self._cut_sentence()

    def _cut_sentence(self) -> str:
        return f"recording ends mid-record after {self.events:,} events"


class _Limited(io.RawIOBase):
    """The first ``limit`` bytes of a file, as a file."""

    def __init__(self, file: IO[bytes], limit: int) -> None:
        self.file, self.left = file, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        want = min(len(buffer), self.left)
        if want <= 0:
            return 0
        got = self.file.readinto(memoryview(buffer)[:want]) or 0
        self.left -= got
        return got

    def close(self) -> None:
        self.file.close()
        super().close()


def _line_blocks(file: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    """The file's text a block of whole lines at a time, without the last newline:
    ``(block, True)``; then any unfinished last line: ``(line, False)``."""
    rest = b""
    while True:
        data = file.read(_BLOCK)
        if not data:
            break
        if rest:
            data = rest + data
        end = data.rfind(b"\n")
        if end < 0:
            rest = data
            continue
        rest = data[end + 1 :]
        yield data[:end], True
    if rest:
        yield rest, False


def check_header(header: Any, path: str | Path) -> None:
    """RecordingError unless ``header`` opens an auditmon msgpack recording we read."""
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RecordingError(f"{path} is not an auditmon recording")
    if header.get("version") != FORMAT_VERSION:
        version = header.get("version")
        raise RecordingError(f"{path}: unsupported recording version {version!r}")


def read_recording(path: str | Path) -> Iterator[dict[str, Any]]:
    """The records of a recording (either encoding), header excluded."""
    return iter(Recording(path))


def _reader_options() -> dict[str, Any]:
    return {
        "raw": False,
        "ext_hook": protocol.ext_hook,
        "strict_map_key": False,
        "unicode_errors": "surrogatepass",
        "max_buffer_size": protocol.MAX_MESSAGE,
    }
