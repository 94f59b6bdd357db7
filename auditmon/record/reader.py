"""Reading a recording of either encoding back as single records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack

from auditmon import protocol
from auditmon.record.json_values import from_json
from auditmon.record.records import FORMAT, FORMAT_VERSION, event_record, is_jsonl


def read_recording(path: str | Path) -> Iterator[dict[str, Any]]:
    """The records of a recording (either encoding), header excluded."""
    path = Path(path)
    if is_jsonl(path):
        with open(path, encoding="utf-8", errors="surrogatepass") as file:
            for line in file:
                if line.strip():
                    record = json.loads(line)
                    if record.get("type") == "event":
                        record["args"] = from_json(record["args"])
                    yield record
        return
    with open(path, "rb") as file:
        unpacker = msgpack.Unpacker(file, **_reader_options())
        header = next(unpacker, None)
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError(f"{path} is not an auditmon recording")
        if header.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported recording version {header.get('version')!r}")
        for record in unpacker:
            if record.get("type") == "events":
                pid = record["pid"]
                for event in record["events"]:
                    yield event_record(pid, event)
            else:
                yield record


def _reader_options() -> dict[str, Any]:
    return {
        "raw": False,
        "ext_hook": protocol.ext_hook,
        "strict_map_key": False,
        "unicode_errors": "surrogatepass",
        "max_buffer_size": protocol.MAX_MESSAGE,
    }
