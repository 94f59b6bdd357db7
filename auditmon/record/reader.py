"""Reading a recording of either encoding back as single records, up to its last whole
record: a recording cut short (a process killed mid-write, a full disk) is read as far
as it goes, and says so."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import msgpack

from auditmon import protocol
from auditmon.record.json_values import from_json
from auditmon.record.records import FORMAT, FORMAT_VERSION, event_record, is_jsonl


class RecordingError(ValueError):
    """Not a recording, or one damaged before its end; the message says where."""


class Recording:
    """The records of the recording at ``path``, header excluded, in order.

    After iterating, ``cut`` is None for a whole recording, else a sentence saying where
    it ends mid-record; ``events`` counts the events read.  ``limit`` reads only the
    first that many bytes (a recording still being written, flushed that far).
    """

    def __init__(self, path: str | Path, limit: int | None = None) -> None:
        self.path = Path(path)
        self.limit = limit
        self.cut: str | None = None
        self.events = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.cut, self.events = None, 0
        if is_jsonl(self.path):
            yield from self._jsonl()
        else:
            yield from self._msgpack()

    def _open(self) -> IO[bytes]:
        file = open(self.path, "rb")
        if self.limit is None:
            return file
        return io.BufferedReader(_Limited(file, self.limit))

    def _size(self) -> int:
        size = os.path.getsize(self.path)
        return size if self.limit is None else min(size, self.limit)

    def _jsonl(self) -> Iterator[dict[str, Any]]:
        with self._open() as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogatepass", newline="\n")
            for number, line in enumerate(text, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as error:
                    if not line.endswith("\n") and _at_end(text):
                        self.cut = self._cut_sentence()
                        return
                    raise RecordingError(
                        f"{self.path}: line {number} is not a record ({error})"
                    ) from None
                if not isinstance(record, dict):
                    raise RecordingError(f"{self.path}: line {number} is not a record")
                if record.get("type") == "event":
                    record["args"] = from_json(record["args"])
                    self.events += 1
                yield record

    def _msgpack(self) -> Iterator[dict[str, Any]]:
        with self._open() as file:
            unpacker = msgpack.Unpacker(file, **_reader_options())
            try:
                header = next(unpacker, None)
            except Exception as error:
                reason = f"{self.path} is not an auditmon recording ({error})"
                raise RecordingError(reason) from None
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise RecordingError(f"{self.path} is not an auditmon recording")
            if header.get("version") != FORMAT_VERSION:
                version = header.get("version")
                raise RecordingError(f"{self.path}: unsupported recording version {version!r}")
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
                whole = unpacker.tell()
                if record.get("type") == "events":
                    pid = record["pid"]
                    for event in record["events"]:
                        self.events += 1
                        yield event_record(pid, event)
                else:
                    yield record
            if whole < self._size():
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


def _at_end(text: io.TextIOWrapper) -> bool:
    return text.read(1) == ""


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
