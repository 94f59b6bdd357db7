"""A JSON Lines recording written by a helper process (auditmon.record.line_helper) is
the one written in a single process, whichever side renders each batch; a helper that
dies, a full disk and a recorder killed mid-frame stop the recording with one line,
never a traceback, and leave only whole lines."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_jsonl_fast import decoded, events, old_line

from auditmon.model import Process
from auditmon.record import Recorder, Recording, event_record, writer
from auditmon.record.jsonl import EventLines
from auditmon.record.line_helper import EVENTS, FRAME, LineHelper, helper_wanted

PID = 4242
ALWAYS_HERE, NEVER_HERE = -1, 2**62  # LineHelper.behind: who renders the batches

DEV_FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full here")


def _process(pid: int = PID) -> Process:
    process = Process(id=1)
    process.apply_hello({"pid": pid, "argv": ["x"], "start": 1.7e9})
    return process


def _record(
    path: Path, batches: list, helper: bool, behind: int | None = None, native: bool = True
) -> Recorder:
    """``native``: False, the Python path alone, in both processes (the recorder then
    renders a share of the batches where ``behind`` says so)."""
    recorder = Recorder(path, helper=helper, native=native)
    if behind is not None:
        assert recorder._helper is not None
        recorder._helper.behind = behind
    process = _process()
    recorder.process_started(process)
    for events_in, raw in batches:
        recorder.events(process, events_in, raw)
    recorder.close()
    return recorder


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(events.filter(bool), min_size=1, max_size=12))
def test_the_helper_writes_what_one_process_writes(tmp_path, batches):
    wire = [decoded(batch) for batch in batches]
    expected = b"".join(
        old_line(event_record(PID, list(event))) for events_in, _ in wire for event in events_in
    )
    alone = tmp_path / "alone.jsonl"
    _record(alone, wire, helper=False)
    assert alone.read_bytes().split(b"\n", 1)[1] == expected
    for native, behind in ((False, ALWAYS_HERE), (False, NEVER_HERE), (True, ALWAYS_HERE)):
        path = tmp_path / f"helped{behind}{native}.jsonl"
        recorder = _record(path, wire, helper=True, behind=behind, native=native)
        assert recorder.failure is None
        assert path.read_bytes() == alone.read_bytes()


def test_batches_without_their_wire_bytes_and_other_records_keep_their_order(tmp_path):
    process = _process()
    paths = []
    for helper in (False, True):
        path = tmp_path / f"{helper}.jsonl"
        recorder = Recorder(path, helper=helper)
        assert (recorder._helper is not None) is helper
        recorder.process_started(process)
        for n in range(50):
            batch = [
                [n * 2 + i + 1, 1.7e9 + n, 7, "e", [n, "x" * n, 1e-05], None] for i in range(2)
            ]
            events_in, raw = decoded(batch)
            recorder.events(process, events_in, raw if n % 3 else None)
            recorder.threads_named(process, [(7, n * 2 + 1, f"thread {n}")])
            recorder.dropped(process, n)
        recorder.process_ended(process)
        recorder.close()
        paths.append(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    kinds = [record["type"] for record in Recording(paths[1])]
    assert kinds == ["process"] + ["event", "event", "thread", "dropped"] * 50 + ["exit"]


def test_by_default_the_helper_takes_over_after_the_first_events(tmp_path, monkeypatch):
    """A short run writes in one process (no helper to start and wait for); past
    HELPER_AFTER events a helper writes on, from where the file was."""
    monkeypatch.setattr(writer, "HELPER_AFTER", 100)
    monkeypatch.setattr(writer, "helper_wanted", lambda: True)  # (as on two cores)
    process = _process()
    paths, helped_from = [], None
    for helper in (False, None):
        path = tmp_path / f"{helper}.jsonl"
        recorder = Recorder(path, helper=helper)
        recorder.process_started(process)
        for n in range(30):
            batch = [[n * 10 + i + 1, 1.7e9, 7, "e", [n, i, "x"], None] for i in range(10)]
            events_in, raw = decoded(batch)
            recorder.events(process, events_in, raw)
            recorder.threads_named(process, [(7, n * 10 + 1, f"thread {n}")])
            if helper is None and helped_from is None and recorder._helper is not None:
                helped_from = recorder.recorded
        recorder.process_ended(process)
        recorder.close()
        assert recorder.failure is None
        paths.append(path)
    assert helped_from == 110  # started with the batch after the first 100 events
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_a_helper_is_wanted_where_two_cores_are_free():
    assert helper_wanted() is (len(os.sched_getaffinity(0)) > 1)
    one_core = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c",
         "from auditmon.record.line_helper import helper_wanted; print(helper_wanted())"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert one_core.stdout.strip() == "False"


def test_a_helper_that_dies_stops_the_recording_with_one_line(tmp_path):
    heard = []
    path = tmp_path / "r.jsonl"
    recorder = Recorder(path, helper=True, problem=heard.append)
    process = _process()
    recorder.process_started(process)
    events_in, raw = decoded([[1, 1.7e9, 7, "e", [1], None]])
    recorder.events(process, events_in, raw)
    recorder.flush()
    assert recorder._helper is not None
    helper = recorder._helper.process
    _wait_for(lambda: path.stat().st_size > 0)
    helper.kill()
    helper.wait()
    for seq in range(2, 400):  # the pipe fills, or breaks: either way the writes stop
        events_in, raw = decoded([[seq, 1.7e9, 7, "e", ["x" * 4096], None]])
        recorder.events(process, events_in, raw)
    recorder.close()
    message = f"auditmon: cannot write {path}: its writer was killed by signal 9; "
    assert heard == [message + "the recording stops there"]
    assert recorder.failure is not None
    assert [r["seq"] for r in Recording(path) if r["type"] == "event"] == [1]


@needs_dev_full
@pytest.mark.parametrize(
    "suffix, helper",
    [(".jsonl", False), (".jsonl", True), (".amrec", False)],
    ids=["jsonl in one process", "jsonl by the helper", "msgpack"],
)
def test_a_full_disk_stops_the_recording_with_one_line(tmp_path, suffix, helper):
    path = tmp_path / f"full{suffix}"
    path.symlink_to(DEV_FULL)
    heard = []
    recorder = Recorder(path, helper=helper, problem=heard.append)
    process = _process()
    recorder.process_started(process)
    events_in, raw = decoded([[1, 1.7e9, 7, "e", [1], None]])
    for _ in range(3):
        recorder.events(process, events_in, raw)
    recorder.close()
    assert heard == [
        f"auditmon: cannot write {path}: No space left on device (after 0 events); "
        "the recording stops there"
    ]


@needs_dev_full
@pytest.mark.parametrize("suffix", [".jsonl", ".amrec"])
def test_run_says_the_recording_failed_and_exits_2(tmp_path, suffix):
    path = tmp_path / f"full{suffix}"
    path.symlink_to(DEV_FULL)
    run = subprocess.run(
        [sys.executable, "-m", "auditmon", "run", "--headless", "--record", str(path), "--",
         sys.executable, "-c", "import json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    failures = [line for line in run.stderr.splitlines() if "cannot write" in line]
    assert failures == [
        f"auditmon: cannot write {path}: No space left on device (after 0 events); "
        "the recording stops there"
    ]


def test_only_whole_frames_are_written(tmp_path):
    """A recorder killed mid-frame: the helper writes the frames it got whole, and ends."""
    path = tmp_path / "r.jsonl"
    with open(path, "wb", buffering=0) as file:
        helper = LineHelper(file)
    whole_events, whole_raw = decoded([[1, 1.7e9, 7, "e", ["whole"], None]])
    cut_events, cut_raw = decoded([[2, 1.7e9, 7, "e", ["cut"], None]])
    helper.behind = NEVER_HERE
    helper.batch(PID, whole_events, whole_raw, EventLines(native=False))
    helper.pipe.write(FRAME.pack(EVENTS, PID, 1, 0, 0, len(cut_raw)))
    helper.pipe.write(cut_raw[:-1])
    assert helper.close() is None
    assert path.read_bytes() == old_line(event_record(PID, list(whole_events[0])))


def test_a_killed_monitor_leaves_a_recording_of_whole_lines(tmp_path):
    """SIGKILL to `auditmon run`: its helper writes what it was handed, then ends."""
    path = tmp_path / "r.jsonl"
    target = (
        "import sys, time\ni = 0\nwhile True:\n"
        "    for _ in range(200):\n        sys.audit('tick', i)\n        i += 1\n"
        "    time.sleep(0.0002)\n"
    )  # bursts a monitor keeps up with: no drops
    monitor = subprocess.Popen(
        [sys.executable, "-m", "auditmon", "run", "--headless", "--record", str(path), "--",
         sys.executable, "-c", target],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    children: list[psutil.Process] = []

    def helpers() -> list[psutil.Process]:  # it starts once the first events are written
        nonlocal children
        children = psutil.Process(monitor.pid).children()
        return [c for c in children if "line_helper" in " ".join(c.cmdline())]

    try:
        _wait_for(lambda: len(helpers()) == 1, timeout=60)
        handed = path.stat().st_size
        _wait_for(lambda: path.stat().st_size > handed + 200_000, timeout=60)
        (helper,) = helpers()
        monitor.kill()
        monitor.wait()
        helper.wait(timeout=30)
    finally:
        monitor.kill()
        for child in children:  # the target
            if child.is_running():
                child.kill()
    data = path.read_bytes()
    assert data.endswith(b"\n")
    recording = Recording(path)
    records = list(recording)
    assert recording.cut is None
    seqs = [r["seq"] for r in records if r["type"] == "event"]
    assert len(seqs) > writer.HELPER_AFTER and seqs == list(range(1, len(seqs) + 1))


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
