"""Thread names: a thread's first event carries its ``threading`` name; the monitor takes
it off the event, keeps it by seq (idents are reused), records it and shows it."""

from __future__ import annotations

import subprocess
import sys

import msgpack
import pytest
from helpers import (
    agent_door,
    agent_env,
    attach_env,
    auditmon,
    clean_env,
    read_jsonl,
    run_recorded,
    system_python_or_skip,
    wait_for,
    wait_until,
)

from auditmon import protocol
from auditmon.catalog import load_catalog
from auditmon.model.process import Process
from auditmon.model.query import Subject, parse_query
from auditmon.monitor.live import LiveMonitor
from auditmon.sources.replay import ReplayFeed
from auditmon.ui.app import AuditmonApp
from auditmon.ui.screens.occurrences import OccurrenceTable
from auditmon.ui.widgets import EventsTable, StatusLine

wire = protocol.wire

# Three named threads one after another (each reuses the ident of the one before), a
# thread started with _thread (no name) that may reuse it too, then the main thread.
WORKLOAD = """
import _thread, sys, threading
def work(n):
    for i in range(3):
        sys.audit("demo.work", n, i)
for n in range(3):
    t = threading.Thread(target=work, args=(n,), name=f"worker-{n}")
    t.start()
    t.join()
done = _thread.allocate_lock()
done.acquire()
def unnamed():
    sys.audit("demo.unnamed")
    done.release()
_thread.start_new_thread(unnamed, ())
done.acquire()
sys.audit("demo.main")
"""


def _event(seq: int, thread: int, *name: str) -> tuple:
    return (seq, 1.7e9, thread, "demo.x", (seq,), None, *name)


def test_the_monitor_takes_thread_names_off_the_events():
    batch = [_event(1, 7, "MainThread"), _event(2, 7), _event(3, 9, "worker")]
    message = protocol.check_message([protocol.EVENTS, batch], first=False)
    assert message.body == tuple(e[:6] for e in batch)
    assert message.threads == [(7, 1, "MainThread"), (9, 3, "worker")]
    plain = protocol.check_message([protocol.EVENTS, [_event(1, 7)]], first=False)
    assert plain.threads is None


@pytest.mark.parametrize("name", [5, None, b"worker"], ids=repr)
def test_a_seventh_field_that_is_not_a_name_is_a_protocol_error(name):
    with pytest.raises(protocol.ProtocolError):
        protocol.check_message([protocol.EVENTS, [_event(1, 7, name)]], first=False)


@pytest.mark.parametrize("where", [0, 1, 3], ids=["first", "middle", "last"])
def test_the_batch_encoder_packs_named_events_as_msgpack_does(where):
    """The pure agent's encoder without msgpack: events of seven fields among six."""
    batch = [_event(seq, 7) for seq in range(1, 5)]
    batch[where] = _event(where + 1, 9, "worker-é")
    assert wire.pack_events(batch) == msgpack.packb(batch, use_bin_type=True)
    assert msgpack.unpackb(wire.pack_events(batch))[where][6] == "worker-é"


def test_a_name_holds_from_its_seq_until_the_ident_is_named_again():
    process = Process(id=1)
    process.name_thread(7, 10, "worker-0")
    process.name_thread(7, 20, "worker-1")
    process.name_thread(7, 30, "")  # a thread of no name took the ident over
    assert [process.thread_name(7, seq) for seq in (5, 10, 19, 20, 29, 30, 99)] == [
        None,
        "worker-0",
        "worker-0",
        "worker-1",
        "worker-1",
        None,
        None,
    ]
    assert process.thread_name(8, 15) is None
    assert process.thread_name(7) is None  # the latest: no name


def test_a_filter_reads_the_name_of_the_events_own_thread():
    process = Process(id=1)
    process.name_thread(7, 10, "worker-0")
    process.name_thread(7, 20, "worker-1")
    query = parse_query("thread.name = worker-0", load_catalog())
    assert query.holds(Subject("demo.x", (), process, 1.0, 7, seq=15))
    assert not query.holds(Subject("demo.x", (), process, 1.0, 7, seq=25))
    assert parse_query("thread.name startswith worker", load_catalog()).holds(
        Subject("demo.x", (), process, 1.0, 7, seq=25)
    )


def _named_events(records: list[dict]) -> list[tuple[str, str | None]]:
    """(event, thread name) of the demo events, names resolved as the monitor does."""
    processes: dict[int, Process] = {}
    found = []
    for record in records:
        process = processes.setdefault(record["pid"], Process(id=len(processes) + 1))
        if record["type"] == "thread":
            process.name_thread(record["thread"], record["seq"], record["name"])
        elif record["type"] == "event" and record["event"].startswith("demo."):
            name = process.thread_name(record["thread"], record["seq"])
            found.append((record["event"], name))
    return found


EXPECTED = [
    *[("demo.work", f"worker-{n}") for n in range(3) for _ in range(3)],
    ("demo.unnamed", None),
    ("demo.main", "MainThread"),
]


@pytest.mark.system
@pytest.mark.parametrize("agent", ["native", "python", "system python3"])
def test_each_event_is_named_by_the_thread_that_raised_it(agent, tmp_path):
    """Both agents, and the pure one without msgpack (Debian's python3): every event is
    attributed to its own thread's name, though the threads reuse one ident."""
    python = sys.executable
    if agent == "system python3":
        python, agent = system_python_or_skip(), "python"
    script = tmp_path / "threads.py"
    script.write_text(WORKLOAD)
    record = tmp_path / "threads.jsonl"
    result = run_recorded(record, python, str(script), env=agent_env(agent))
    assert result.returncode == 0, result.stderr
    records = read_jsonl(record)
    assert _named_events(records) == EXPECTED
    assert any(r["type"] == "thread" and r["name"] == "MainThread" for r in records)


@pytest.mark.system
async def test_the_occurrences_show_thread_names_in_a_replay(tmp_path):
    """A msgpack recording (its named batches re-encoded, not passed through) replayed
    in the live app: the occurrence table's thread column names each thread."""
    script = tmp_path / "threads.py"
    script.write_text(WORKLOAD)
    record = tmp_path / "threads.amrec"
    result = run_recorded(record, sys.executable, str(script))
    assert result.returncode == 0, result.stderr
    monitor = LiveMonitor(ReplayFeed(record))
    monitor.launch()
    app = AuditmonApp(monitor, export_dir=tmp_path)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until(
                lambda: "replayed" in str(app.query_one(StatusLine).render()), message="replay"
            )
            await pilot.press("slash")
            app.query_one("#filter").value = "demo.work"
            await pilot.press("enter")
            events = app.query_one(EventsTable)
            await wait_until(
                lambda: events.row_count == 1 and events.get_row_at(0)[0].plain == "demo.work",
                message="the demo.work row alone",
            )
            events.move_cursor(row=0)
            events.focus()
            await pilot.press("enter")
            await wait_until(
                lambda: (
                    getattr(app.screen, "detail", None) is not None
                    and len(app.screen.query(OccurrenceTable)) == 1
                    and app.screen.query_one(OccurrenceTable).row_count == 9
                ),
                message="the occurrences of demo.work",
            )
            table = app.screen.query_one(OccurrenceTable)
            shown = sorted(str(table.get_row_at(i)[2]) for i in range(table.row_count))
            assert shown == sorted(f"worker-{n}" for n in range(3) for _ in range(3))
    finally:
        monitor.stop()


ATTACHABLE = """
import sys, threading, time
ready = threading.Event()
def tick():
    i = 0
    while True:
        sys.audit("demo.tick", i)
        i += 1
        if i == 200:
            ready.set()
        time.sleep(0.002)
threading.Thread(target=tick, name="ticker", daemon=True).start()
ready.wait()
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.mark.system
@pytest.mark.parametrize("agent", ["native", "python"])
def test_an_attached_monitor_is_sent_the_names_again(agent, runtime_dir, tmp_path):
    """The ring (50 events here) has long lost the event that named the thread: the
    agent names it again with its first event after the monitor attaches."""
    script = tmp_path / "attachable.py"
    script.write_text(ATTACHABLE)
    env = {**attach_env(runtime_dir), "AUDITMON_AGENT": agent, "AUDITMON_RING": "50"}
    target = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert target.stdout.readline() == b"ready\n"
        wait_for(lambda: agent_door(runtime_dir, target.pid), message="the agent's socket")
        for attempt in ("first", "second"):
            record = tmp_path / f"{attempt}.jsonl"
            result = auditmon(
                "attach",
                "--duration",
                "0.5",
                "--record",
                str(record),
                str(target.pid),
                env=clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir)),
            )
            assert result.returncode == 0, result.stderr
            records = read_jsonl(record)
            names = [r for r in records if r["type"] == "thread" and r["name"] == "ticker"]
            ticks = [r for r in records if r["type"] == "event" and r["event"] == "demo.tick"]
            assert names and ticks, attempt
            assert ticks[0]["args"][0] > 0  # the event that named it is not in the ring
            named_from = names[0]["seq"]
            assert names[0]["thread"] == ticks[0]["thread"]
            assert any(t["seq"] >= named_from for t in ticks)
    finally:
        target.stdin.close()
        target.kill()
        target.wait()
