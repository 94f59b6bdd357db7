"""The real Textual app driven by its Pilot: fixed data, and a real agent-run workload."""

from __future__ import annotations

import sys
import time as real_time

import pytest
from doubles import StaticMonitor
from fakedata import NOW, T0, build_session
from helpers import WORKLOADS, auditmon, wait_until

from auditmon.monitor.live import LiveMonitor
from auditmon.record import read_recording
from auditmon.sources.launch import RunFeed
from auditmon.sources.replay import ReplayFeed
from auditmon.ui.app import AuditmonApp
from auditmon.ui.messages import SnapshotReady
from auditmon.ui.screens import CellScreen, EventScreen, HelpScreen, OccurrenceScreen
from auditmon.ui.widgets import EventsTable, Heatmap, ProcessTable, StatusLine
from auditmon.views.snapshot import Snapshot

SIZE = (140, 40)


def event_names(app) -> list[str]:
    table = app.query_one(EventsTable)
    return [table.get_row_at(i)[0].plain for i in range(table.row_count)]


def status_text(app) -> str:
    return str(app.query_one(StatusLine).render())


async def wait_for_status(app, text: str, timeout: float = 30) -> None:
    """Until the status line shows ``text`` (the source's thread moves it along)."""
    await wait_until(
        lambda: text in status_text(app),
        timeout,
        f"{text!r} in the status line",
        state=lambda: status_text(app),
    )


@pytest.fixture
def app():
    return AuditmonApp(
        StaticMonitor(build_session(), NOW, mode="run", output=[("stdout", "hello")])
    )


async def test_drill_down_and_back_keeps_the_place(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down")  # socket.connect
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, EventScreen)
        assert app.screen.event_name == "socket.connect"
        await pilot.pause()
        boxes = [
            " ".join(str(t.get_row_at(i)[1]) for i in range(t.row_count))
            for t in app.screen.query(".argument")
        ]
        assert any("10.0.0.8" in b for b in boxes)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, OccurrenceScreen)
        body = str(app.screen.query_one("#occurrence-body").render())
        assert "address = ['10.0.0.8', 5432]" in body and '"event": "socket.connect"' in body
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, EventScreen)
        assert app.screen.query_one("#occurrences").cursor_row == 1
        await pilot.press("escape")
        await pilot.pause()
        assert app.query_one(EventsTable).cursor_row == 1


async def test_filter_narrows_and_bad_filters_explain(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        await pilot.press(*"cat:network")
        await pilot.press("enter")
        await pilot.pause()
        assert event_names(app) == ["socket.connect"]
        assert "filter: cat:network" in status_text(app)
        await pilot.press("slash")
        app.query_one("#filter").value = ""
        await pilot.press(*"pid=x", "enter")
        await pilot.pause()
        assert any("pid needs a number" in str(n.message) for n in app._notifications)
        assert app.query_one("#filter").display  # still open to fix it
        await pilot.press("escape")
        await pilot.pause()
        assert not app.query_one("#filter").display
        assert event_names(app) == ["socket.connect"]


async def test_pause_freezes_the_view_and_ingest_goes_on(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = event_names(app)
        await pilot.press("p")
        source = app.monitor
        proc = source.session.processes[1].process
        source.session.events(proc, [[999, T0 + 39.9, 1, "late.event", [], None]])
        app.post_message(SnapshotReady(source.snapshot()))
        await pilot.pause()
        assert event_names(app) == before
        assert "PAUSED" in status_text(app)
        await pilot.press("p")
        await pilot.pause()
        assert "late.event" in event_names(app)
        assert "PAUSED" not in status_text(app)


async def test_scope_sort_help_palette_and_heatmap_cell(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one(ProcessTable).focus()
        await pilot.press("down", "down")  # the child process
        await pilot.pause()
        assert set(event_names(app)) == {"import", "marshal.loads"}
        await pilot.press("up", "up")
        await pilot.pause()
        assert "open" in event_names(app)
        await pilot.press("s")  # count -> rate
        await pilot.press("s")  # -> name
        await pilot.pause()
        assert event_names(app) == sorted(event_names(app))
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Filter", "Pause or resume", "Export view", "Keys"} <= set(titles)
        app.query_one(Heatmap).focus()
        await pilot.pause()
        await pilot.press("down", "down", "down", "down")  # Processes, Code, Native, Network, Files
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CellScreen)
        assert app.screen.category == "filesystem" and app.screen.second == int(NOW)
        await pilot.press("escape")


async def test_export_writes_the_current_view(app, tmp_path):
    app.export_dir = tmp_path
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"cat:network", "enter")
        await pilot.press("e")
        await pilot.pause()
    (exported,) = tmp_path.glob("auditmon-export-*.jsonl")
    records = list(read_recording(exported))
    events = [r for r in records if r["type"] == "event"]
    assert {r["event"] for r in events} == {"socket.connect"} and len(events) == 14
    assert records[0]["type"] == "process" and records[0]["pid"] == 4100


WORKLOAD = """
import sys, time
for i in range(20):
    open('/dev/null').close()
    sys.audit('pilot.tick', i)
print('workload output')
sys.exit(3)
"""


@pytest.mark.system
async def test_a_real_run_shows_events_and_the_exit(tmp_path):
    source = LiveMonitor(RunFeed([sys.executable, "-c", WORKLOAD], {}), tmp_path / "rec.jsonl")
    source.launch()
    app = AuditmonApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_status(app, "exited with status 3", 30)
        rows = app.query_one(ProcessTable)

        def command_row() -> list[str]:
            return [str(c) for c in rows.get_row_at(1)] if rows.row_count > 1 else []

        # the process row follows with a later snapshot, once its connection has closed
        await wait_until(
            lambda: "exited 3" in command_row(),
            message="the command's row to say 'exited 3'",
            state=lambda: (rows.row_count, command_row()),
        )
        assert {"open", "pilot.tick"} <= set(event_names(app))
        log = app.query_one("#output")
        # the output is read by threads of its own, and shown with a snapshot
        await wait_until(
            lambda: any("workload output" in str(line) for line in log.lines),
            message="the command's output in the output panel",
            state=lambda: [str(line) for line in log.lines],
        )
        assert any("workload output" in str(line) for line in log.lines)
        index = event_names(app).index("pilot.tick")
        app.query_one(EventsTable).move_cursor(row=index)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, EventScreen)
        detail = app.screen.detail
        assert detail.count == 20 and len(detail.occurrences) == 20
        await pilot.press("escape", "q")
    assert source.terminate() == 3
    source.stop()
    ticks = [r for r in read_recording(tmp_path / "rec.jsonl") if r.get("event") == "pilot.tick"]
    assert [r["args"][0] for r in ticks] == list(range(20))


@pytest.mark.system
async def test_replay_shows_a_recording_in_the_same_screens(tmp_path):
    recording = tmp_path / "rec.amrec"
    result = auditmon(
        "run",
        "--record",
        str(recording),
        "--",
        sys.executable,
        str(WORKLOADS / "exact.py"),
        str(tmp_path / "seen.json"),
    )
    assert result.returncode == 0, result.stderr
    records = list(read_recording(recording))
    recorded = [r for r in records if r["type"] == "event"]
    source = LiveMonitor(ReplayFeed(recording))
    source.launch()
    app = AuditmonApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_status(app, "replayed", 30)
        # the status line may say so over an earlier snapshot: wait for the last one
        await wait_until(
            lambda: app.latest.total_events == len(recorded),
            message=f"a snapshot with all {len(recorded)} recorded events",
            state=lambda: app.latest.total_events,
        )
        assert app.latest.total_events == len(recorded)
        assert len(app.latest.processes) == len([r for r in records if r["type"] == "process"])
        index = event_names(app).index("exact.odd")
        app.query_one(EventsTable).move_cursor(row=index)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.detail.count == 1
        await pilot.press("enter")
        await pilot.pause()
        body = str(app.screen.query_one("#occurrence-body").render())
        assert "x" * 100 in body and "1,000,000 chars" in body


class ReplayClock:
    """A clock that only the replay's own sleeps move on: the replay is paced by it as
    by the real one, but how fast the machine runs makes no difference."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = self.now = start

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        real_time.sleep(0)  # other threads get their turn, as in a real sleep

    def elapsed(self) -> float:
        return self.now - self.start

    def __getattr__(self, name: str):
        return getattr(real_time, name)  # time.time() and the rest: the real ones


TICKS = [100.0 + i * 0.5 for i in range(5)]  # recorded 0.5 s apart: 2 s in all


def due_by(elapsed: float, speed: float) -> int:
    """How many of TICKS a replay at ``speed`` may have shown ``elapsed`` s after its start."""
    return sum((t - TICKS[0]) / speed <= elapsed + 1e-9 for t in TICKS)


async def test_replay_in_time_takes_the_recorded_time(tmp_path, monkeypatch):
    path = tmp_path / "timed.jsonl"
    path.write_text(
        '{"type":"process","pid":7,"ppid":1,"argv":["x"],"executable":"x","cwd":"/",'
        '"python":"cpython 3.11.7","start":100.0}\n'
        + "".join(
            f'{{"type":"event","pid":7,"seq":{i + 1},"time":{t},"thread":1,'
            f'"event":"t.tick","args":[{i}]}}\n'
            for i, t in enumerate(TICKS)
        )
    )
    clock = ReplayClock()
    monkeypatch.setattr(sys.modules[ReplayFeed.__module__], "time", clock)
    source = LiveMonitor(ReplayFeed(path, speed=2.0))
    source.launch()
    taken = []  # (the replay's clock, the snapshot) for each snapshot handed to the UI
    start = source.start

    def start_and_keep_snapshots(callback) -> None:
        def keep(delivered) -> None:
            if isinstance(delivered, Snapshot):
                taken.append((clock.elapsed(), delivered))
            callback(delivered)

        start(keep)

    source.start = start_and_keep_snapshots
    app = AuditmonApp(source)
    async with app.run_test(size=SIZE):
        await wait_for_status(app, "replayed", 20)
        await wait_until(
            lambda: app.latest.total_events == 5,
            message="a snapshot with all 5 events",
            state=lambda: app.latest.total_events,
        )
        assert app.latest.total_events == 5
    counts = [snapshot.total_events for _, snapshot in taken]
    assert counts == sorted(counts) and counts[-1] == 5
    assert counts[0] < 5  # the first snapshot came before the replay had shown them all
    for elapsed, snapshot in taken:
        assert snapshot.total_events <= due_by(elapsed, 2.0), (elapsed, counts)  # none early
        (row,) = snapshot.events
        assert row.last_time == TICKS[row.count - 1]  # in the recorded order
    assert taken[-1][0] == pytest.approx(1.0, abs=0.06)  # 2 s of recording at 2x


@pytest.mark.system
def test_replay_refuses_what_is_not_a_recording(tmp_path):
    missing = auditmon("replay", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x93\x01\x02\x03 not a recording")
    result = auditmon("replay", str(junk))
    assert result.returncode == 2 and "not a readable recording" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.system
async def test_attach_shows_the_process_and_says_when_it_dies(ticker, runtime_dir, monkeypatch):
    from auditmon import protocol
    from auditmon.sources.attach import AttachFeed, connect

    monkeypatch.setenv("AUDITMON_RUNTIME_DIR", str(runtime_dir))
    source = LiveMonitor(AttachFeed(ticker.pid, connect(ticker.pid, protocol.REQUEST_STREAM)))
    source.launch()
    app = AuditmonApp(source)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                lambda: "ticker.tick" in event_names(app),
                message="the ticker's events in the events table",
                state=lambda: (status_text(app), event_names(app)),
            )
            assert f"attached to pid {ticker.pid}" in status_text(app)
            ticker.stop_file.touch()
            await wait_for_status(app, "exited; data kept", 20)
            assert "ticker.tick" in event_names(app)  # the data stays
            await pilot.press("q")
    finally:
        source.stop()


async def test_a_snapshot_with_the_same_rows_changes_only_their_cells(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(EventsTable)
        await pilot.press("down")  # the cursor on socket.connect
        rows_before = [table.get_row_at(i)[0].plain for i in range(table.row_count)]
        count_before = table.get_cell("socket.connect", "count")
        source = app.monitor
        proc = source.session.processes[1].process
        source.session.events(proc, [[998, T0 + 39.9, 1, "socket.connect", [], None]])
        app.post_message(SnapshotReady(source.snapshot()))
        await pilot.pause()
        assert [table.get_row_at(i)[0].plain for i in range(table.row_count)] == rows_before
        count = int(count_before.replace(",", ""))
        assert table.get_cell("socket.connect", "count") == f"{count + 1:,}"
        assert table.current_key() == "socket.connect"


async def test_ingest_waits_while_the_screen_is_redrawn(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        turn = app.monitor.turn
        turn.last_redraw = 0.0
        app.post_message(SnapshotReady(app.monitor.snapshot()))
        await pilot.pause()
        await pilot.pause()
        assert turn.last_redraw > 0  # the app said when the redraw began and ended
        await pilot.press("question_mark")  # and so it does under another screen
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        turn.last_redraw = 0.0
        app.post_message(SnapshotReady(app.monitor.snapshot()))
        await pilot.pause()
        await pilot.pause()
        assert turn.last_redraw > 0


async def test_the_heatmap_grows_by_its_cursor_line_and_shrinks_back(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        heat = app.query_one(Heatmap)
        unfocused = heat.content_size.height
        assert unfocused == heat.height_in_lines()
        heat.focus()
        await pilot.pause()
        assert heat.content_size.height == unfocused + 1 == heat.height_in_lines()
        app.post_message(SnapshotReady(app.monitor.snapshot()))  # a redraw keeps it
        await pilot.pause()
        assert heat.content_size.height == unfocused + 1
        app.query_one(EventsTable).focus()
        await pilot.pause()
        assert heat.content_size.height == unfocused
