"""Recordings: writing a session as it arrives (JSON Lines or msgpack), reading one back,
and exporting part of one.  See ``writer`` for the two encodings."""

from auditmon.record.export import Exported, export_view
from auditmon.record.json_values import from_json, to_json
from auditmon.record.reader import Recording, RecordingError, read_recording
from auditmon.record.records import (
    FORMAT,
    FORMAT_VERSION,
    dropped_record,
    event_record,
    exit_record,
    is_jsonl,
    process_record,
)
from auditmon.record.writer import Recorder, Spool

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Exported",
    "Recorder",
    "Recording",
    "RecordingError",
    "Spool",
    "dropped_record",
    "event_record",
    "exit_record",
    "from_json",
    "is_jsonl",
    "process_record",
    "read_recording",
    "export_view",
    "to_json",
]
