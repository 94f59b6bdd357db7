"""Recordings: writing a session as it arrives (JSON Lines or msgpack), reading one back,
and exporting part of one.  See ``writer`` for the two encodings."""

from auditmon.record.export import write_export
from auditmon.record.json_values import from_json, to_json
from auditmon.record.reader import read_recording
from auditmon.record.records import (
    FORMAT,
    FORMAT_VERSION,
    dropped_record,
    event_record,
    exit_record,
    is_jsonl,
    process_record,
)
from auditmon.record.writer import Recorder

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Recorder",
    "dropped_record",
    "event_record",
    "exit_record",
    "from_json",
    "is_jsonl",
    "process_record",
    "read_recording",
    "to_json",
    "write_export",
]
