"""A running ``auditmon run`` session that another terminal can watch.

The session's monitor already writes everything it counts to a recording (the live
monitor's msgpack spool, or ``--record FILE`` headless, msgpack or JSON Lines); it
advertises that file in the runtime directory, as ``session-<its pid>.json`` (0600, in
the 0700 directory the agents' sockets use), and flushes it often.  ``auditmon attach``
on the monitor's PID then replays the file from its start and follows it as it grows
(``follow_records``), until the session ends: any number of watchers, none of which the
session waits for.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import psutil

from auditmon.record.jsonl import has_tags, parse_line, parse_lines
from auditmon.record.reader import (
    EventBatch,
    Recording,
    RecordingError,
    _reader_options,
    check_header,
)
from auditmon.record.records import is_jsonl
from auditmon.sources.environment import runtime_dir

#: What ``follow_records`` yields while the file has nothing new yet.
WAITING = object()
_READ = 1 << 20


def advert_path(pid: int) -> Path:
    return runtime_dir() / f"session-{pid}.json"


class Advert:
    """This process's session, advertised while it runs (``close`` takes it back)."""

    def __init__(self, recording: Path, command: list[str]) -> None:
        directory = runtime_dir()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = advert_path(os.getpid())
        body = {
            "pid": os.getpid(),
            "recording": str(recording.resolve()),
            "command": command,
            "start": time.time(),
        }
        partial = self.path.with_suffix(".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(body, file)
        os.replace(partial, self.path)

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


def advertise(recording: Path | None, command: list[str]) -> Advert | None:
    """Advertise a session recorded to ``recording`` (msgpack or JSON Lines); None where
    there is nothing to advertise or it can't be written."""
    if recording is None:
        return None
    try:
        return Advert(recording, command)
    except OSError:
        return None


def find(pid: int) -> dict[str, Any] | None:
    """The session the monitor ``pid`` advertises, if it runs one and is alive."""
    path = advert_path(pid)
    try:
        if path.stat().st_uid != os.getuid():
            return None
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(body, dict) or not psutil.pid_exists(pid):
        return None
    return body


def sessions() -> list[dict[str, Any]]:
    """Every live session advertised by this user's monitors."""
    found = []
    directory = runtime_dir()
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("session-*.json")):
        try:
            pid = int(path.stem.removeprefix("session-"))
        except ValueError:
            continue
        body = find(pid)
        if body is not None:
            found.append(body)
    return found


def follow_records(
    path: Path, running: Callable[[], bool]
) -> Iterator[dict[str, Any] | EventBatch | object]:
    """The records of a msgpack recording being written, as ``Recording.chunks(lazy=True)``
    gives them, from its start and on as it grows; ``WAITING`` while nothing new has
    come and ``running()`` says the session goes on; the end once it is over and the
    file read to its end.  A record cut at the end waits for the rest."""
    if is_jsonl(path):
        yield from _follow_lines(path, running)
        return
    unpacker = msgpack.Unpacker(use_list=False, **_reader_options())
    with open(path, "rb") as file:
        header_seen = False
        while True:
            data = file.read(_READ)
            if data:
                unpacker.feed(data)
            got = False
            for record in unpacker:
                got = True
                if not header_seen:
                    check_header(record, path)
                    header_seen = True
                    continue
                if not isinstance(record, dict):
                    raise RecordingError(f"{path}: damaged")
                if record.get("type") == "events":
                    yield EventBatch(record["pid"], record["events"])
                else:
                    yield record
            if data or got:
                continue
            if not running():
                rest = file.read()
                if not rest:
                    return
                unpacker.feed(rest)
                continue
            yield WAITING


def _follow_lines(
    path: Path, running: Callable[[], bool]
) -> Iterator[dict[str, Any] | EventBatch | object]:
    """``follow_records`` for a JSON Lines recording: whole lines as they come (a line
    written in part waits for its end), read as ``Recording.chunks(lazy=True)`` reads
    them."""
    reading = Recording(path)
    rest = b""
    number = 0  # lines read
    with open(path, "rb") as file:
        while True:
            data = file.read(_READ)
            if not data:
                if running():
                    yield WAITING
                    continue
                data = file.read()
                if not data:
                    if rest.strip():
                        raise RecordingError(f"{path}: line {number + 1} is cut short")
                    return
            rest += data
            end = rest.rfind(b"\n")
            if end < 0:
                continue
            block, rest = rest[:end], rest[end + 1 :]
            records = _lines(path, block, number)  # (JSON Lines have no header line)
            number += block.count(b"\n") + 1
            items = reading.block_items(records, has_tags(block), True)
            if type(items) is int:
                raise RecordingError(f"{path}: a line after {number} is not a record")
            yield from items


def _lines(path: Path, block: bytes, before: int) -> list[Any]:
    """The values of a block of whole lines (blank ones left out)."""
    values = parse_lines(block)
    if values is not None:
        return values
    values = []
    for number, line in enumerate(block.split(b"\n"), before + 1):
        if not line.strip():
            continue
        try:
            values.append(parse_line(line))
        except ValueError as error:
            raise RecordingError(f"{path}: line {number} is not a record ({error})") from None
    return values
