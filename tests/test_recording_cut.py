"""A recording cut short (a process killed mid-write, a full disk) is read up to its
last whole record, and the tools say that it was cut."""

from __future__ import annotations

import sys

import pytest
from helpers import WORKLOADS, auditmon

from auditmon.record.reader import Recording, RecordingError

pytestmark = pytest.mark.system  # real runs record what is cut here


@pytest.fixture(scope="module", params=["jsonl", "amrec"])
def whole(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cut")
    recording = folder / f"run.{request.param}"
    result = auditmon(
        "run",
        "--headless",
        "--record",
        str(recording),
        "--",
        sys.executable,
        str(WORKLOADS / "exact.py"),
        str(folder / "seen.json"),
    )
    assert result.returncode == 0, result.stderr
    return recording


def test_a_whole_recording_is_not_cut(whole):
    recording = Recording(whole)
    records = list(recording)
    assert recording.cut is None and recording.events == sum(
        1 for r in records if r["type"] == "event"
    )


def test_a_recording_cut_mid_record_reads_to_its_last_whole_record(whole, tmp_path):
    data = whole.read_bytes()
    everything = Recording(whole)
    total = len([r for r in everything if r["type"] == "event"])
    cut = tmp_path / f"cut{whole.suffix}"
    cut.write_bytes(data[: len(data) * 2 // 3 + 7])
    recording = Recording(cut)
    records = list(recording)
    events = [r for r in records if r["type"] == "event"]
    assert 0 < len(events) < total
    assert recording.cut == f"recording ends mid-record after {len(events):,} events"


def test_replay_says_where_the_recording_ends(whole, tmp_path):
    data = whole.read_bytes()
    cut = tmp_path / f"cut{whole.suffix}"
    cut.write_bytes(data[: len(data) // 2 + 3])
    result = auditmon("replay", "--headless", str(cut))
    assert result.returncode == 0, result.stderr
    assert "recording ends mid-record after" in result.stderr
    assert "Traceback" not in result.stderr
    assert "events from" in result.stderr  # the summary of what was read


def test_a_jsonl_line_damaged_in_the_middle_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"type": "process", "pid": 1}\n{"type": oops}\n{"type": "exit", "pid": 1}\n')
    with pytest.raises(RecordingError, match="line 2 is not a record"):
        list(Recording(path))
    result = auditmon("replay", "--headless", str(path))
    assert result.returncode == 2 and "line 2 is not a record" in result.stderr
    assert "Traceback" not in result.stderr
