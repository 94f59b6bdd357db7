"""Answers that can be trusted under a filter or a scope: every panel counts the same
world, exactly, for the whole session (issue 16's wrong answers)."""

from __future__ import annotations

import sys
from collections import Counter

import pytest
from doubles import StaticMonitor
from fakedata import NOW, build_session
from helpers import auditmon, read_jsonl, wait_until

from auditmon.catalog import load_catalog
from auditmon.model.filtering import parse
from auditmon.monitor.live import LiveMonitor
from auditmon.record import read_recording
from auditmon.sources.replay import ReplayFeed
from auditmon.ui.app import AuditmonApp
from auditmon.ui.widgets import EventsTable, ProcessTable, StatusLine
from auditmon.views import snapshot

CATALOG = load_catalog()
SIZE = (160, 48)

# One early write, then 40 writes and 300 reads of other files: more opens than the 100
# occurrences kept per event and process, so the early write is no longer kept.
SECRET_WORKLOAD = """
import os, sys
folder = sys.argv[1]
with open(os.path.join(folder, 'early-secret.txt'), 'w') as f:
    f.write('x')
for i in range(40):
    with open(os.path.join(folder, f'out-{i}.txt'), 'w') as f:
        f.write('y')
for i in range(300):
    with open(os.path.join(folder, f'out-{i % 40}.txt')) as f:
        f.read()
"""


def view(text: str = "", process_id: int | None = None) -> snapshot.View:
    return snapshot.View(process_id=process_id, filter=parse(text, CATALOG))


def test_every_panel_counts_the_filtered_world():
    session = build_session()
    snap = snapshot.build(session, view("cat:network"), NOW)
    network = {r.name: r.count for r in snap.events}
    assert network == {"socket.connect": 14}
    assert snap.total_events == 14
    rows = {r.pid: r for r in snap.processes}
    assert rows[4100].events == 14 and rows[4101].events == 0
    heat = dict(zip(snap.heatmap.categories, snap.heatmap.totals))
    assert heat["network"] == 14 and heat["filesystem"] == 0
    cells = dict(zip(snap.heatmap.categories, snap.heatmap.cells))
    # a connect every third second; the window's 40 seconds hold 13 of the 14
    assert sum(cells["network"]) == 13
    assert all(sum(row) == 0 for name, row in cells.items() if name != "network")
    # the heatmap's legend scales to what is shown, not to the unfiltered peak
    unfiltered = snapshot.build(session, view(), NOW)
    assert snap.heatmap.peak < unfiltered.heatmap.peak


def test_procs_counts_the_processes_with_selected_events():
    session = build_session()
    both = snapshot.build(session, view("import"), NOW)
    assert {r.name: (r.count, r.processes) for r in both.events} == {"import": (13, 2)}
    only_child = snapshot.build(session, view("import module~json.mod"), NOW)
    assert {r.name: (r.count, r.processes) for r in only_child.events} == {"import": (12, 1)}


def test_the_status_line_names_the_scope():
    session = build_session()
    snap = snapshot.build(session, view(process_id=2), NOW)
    assert snap.scope == "pid 4101 /usr/bin/python3 -c import json"
    assert snap.total_events == 13


def test_an_ended_process_shows_no_rate_cpu_or_memory():
    session = build_session()
    session.set_facts(2, {"cpu": 12.0, "rss": 1 << 20, "threads": 1, "open_files": 0})
    session.set_facts(1, {"cpu": 3.0, "rss": 1 << 20, "threads": 2, "open_files": 1})
    rows = {r.pid: r for r in snapshot.build(session, view(), NOW).processes}
    child, parent = rows[4101], rows[4100]
    assert child.state == "exited 0"
    assert child.rate is None and child.cpu is None and child.rss is None
    assert parent.rate is not None and parent.cpu == 3.0
    finished = snapshot.build(session, view(), NOW, live=False)
    assert finished.rate is None and all(r.rate is None for r in finished.events)


@pytest.fixture(scope="module")
def secret_recording(tmp_path_factory):
    folder = tmp_path_factory.mktemp("secret")
    script = folder / "workload.py"
    script.write_text(SECRET_WORKLOAD)
    recording = folder / "run.jsonl"
    result = auditmon(
        "run",
        "--headless",
        "--record",
        str(recording),
        "--",
        sys.executable,
        str(script),
        str(folder),
    )
    assert result.returncode == 0, result.stderr
    return recording


def _written(records: list[dict]) -> Counter:
    return Counter(
        r["args"][0]
        for r in records
        if r["type"] == "event" and r["event"] == "open" and "w" in str(r["args"][1])
    )


async def _filter(pilot, text: str) -> None:
    await pilot.press("slash")
    pilot.app.query_one("#filter").value = text
    await pilot.press("enter")
    await pilot.pause()


async def _wait(pilot, condition, what: str) -> None:
    await wait_until(condition, message=what)
    await pilot.pause()


def _event_counts(app) -> dict[str, str]:
    table = app.query_one(EventsTable)
    return {table.get_row_at(i)[0].plain: table.get_row_at(i)[3] for i in range(table.row_count)}


@pytest.mark.system
async def test_an_argument_filter_counts_the_whole_session(secret_recording, tmp_path):
    """``/open mode~w`` counts every write of the recording, the early one that is no
    longer among the kept occurrences included, and its value table lists it."""
    records = read_jsonl(secret_recording)
    written = _written(records)
    (early,) = [p for p in written if str(p).endswith("early-secret.txt")]
    assert sum(written.values()) >= 41
    monitor = LiveMonitor(ReplayFeed(secret_recording))
    monitor.launch()
    app = AuditmonApp(monitor, export_dir=tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await _wait(
                pilot, lambda: "replayed" in str(app.query_one(StatusLine).render()), "replay"
            )
            await _filter(pilot, "open mode~w")
            await _wait(pilot, lambda: "open" in _event_counts(app), "the open row")
            assert _event_counts(app)["open"] == f"{sum(written.values()):,}"
            table = app.query_one(EventsTable)
            table.move_cursor(row=list(_event_counts(app)).index("open"))
            await pilot.press("enter")
            await _wait(pilot, lambda: getattr(app.screen, "detail", None) is not None, "detail")
            detail = app.screen.detail
            assert detail.count == sum(written.values())
            path = detail.arguments[0]
            assert path.distinct == len(written)
            assert early in dict(path.top)  # counted once like the others, and first seen
            await pilot.press("escape")
    finally:
        monitor.stop()


@pytest.mark.system
async def test_export_writes_what_the_view_counts_with_its_processes(secret_recording, tmp_path):
    records = read_jsonl(secret_recording)
    written = _written(records)
    monitor = LiveMonitor(ReplayFeed(secret_recording))
    monitor.launch()
    app = AuditmonApp(monitor, export_dir=tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await _wait(
                pilot, lambda: "replayed" in str(app.query_one(StatusLine).render()), "replay"
            )
            await _filter(pilot, "open mode~w")
            status = str(app.query_one(StatusLine).render())
            assert f"{sum(written.values()):,} events" in status
            await pilot.press("e")
            await _wait(pilot, lambda: list(tmp_path.glob("auditmon-export-*")), "the export")
            await _wait(pilot, lambda: app._notifications, "the export's notice")
            # nothing matches: no file, and it says so
            await _filter(pilot, "open path~/no/such/place")
            before = set(tmp_path.glob("auditmon-export-*"))
            await pilot.press("e")
            await _wait(
                pilot,
                lambda: any("nothing" in str(n.message) for n in app._notifications),
                "the empty export's notice",
            )
            assert set(tmp_path.glob("auditmon-export-*")) == before
    finally:
        monitor.stop()
    (exported,) = tmp_path.glob("auditmon-export-*")
    out = list(read_recording(exported))
    events = [r for r in out if r["type"] == "event"]
    assert len(events) == sum(written.values())
    assert {r["event"] for r in events} == {"open"}
    kinds = [r["type"] for r in out]
    assert kinds[0] == "process" and kinds[-1] == "exit"
    assert out[-1]["status"] == "exited"


async def test_user_text_is_never_markup():
    app = AuditmonApp(StaticMonitor(build_session(), NOW, mode="run"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _filter(pilot, "risk>=[/x]")
        assert app.is_running
        assert any("[/x]" in str(n.message) for n in app._notifications)
        await pilot.press("escape")
        await _filter(pilot, "mylib.login arg0=[warning]")
        assert "[warning]" in str(app.query_one(StatusLine).render())


async def test_the_process_table_counts_under_a_filter():
    app = AuditmonApp(StaticMonitor(build_session(), NOW, mode="run"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _filter(pilot, "cat:network")
        table = app.query_one(ProcessTable)
        cells = {str(table.get_row_at(i)[0]): table.get_row_at(i) for i in range(table.row_count)}
        assert str(cells["4100"][2]) == "14" and str(cells["4101"][2]) == "0"


POOL_WORKLOAD = """
import multiprocessing, sys, time
def slow(x):
    sys.audit('pool.work', x)
    time.sleep(30)
if __name__ == '__main__':
    with multiprocessing.get_context('fork').Pool(2) as pool:
        pool.map_async(slow, range(2))
        time.sleep(1)  # both workers are inside slow() when the pool is left
    time.sleep(0.2)
"""


@pytest.mark.system
def test_pool_workers_terminated_by_their_pool_are_shown_killed_not_lost(tmp_path):
    """``Pool.__exit__`` sends its workers SIGTERM (``os.kill``, an audit event of the
    parent's): the workers that vanish without a goodbye are shown "killed by signal
    15", as what happened, not as alarming disconnects."""
    script = tmp_path / "pool.py"
    script.write_text(POOL_WORKLOAD)
    recording = tmp_path / "pool.jsonl"
    result = auditmon(
        "run", "--headless", "--record", str(recording), "--", sys.executable, str(script)
    )
    assert result.returncode == 0, result.stderr
    records = read_jsonl(recording)
    kills = {r["args"][0] for r in records if r["type"] == "event" and r["event"] == "os.kill"}
    exits = {r["pid"]: r for r in records if r["type"] == "exit"}
    workers = kills & set(exits)
    assert workers, (kills, exits)  # the pool signalled its workers, which reported
    for pid in workers:
        assert exits[pid]["status"] in ("exited", "disconnected")
        if exits[pid]["status"] == "disconnected":
            assert exits[pid]["exit_code"] == -15
    assert "no goodbye" not in result.stderr
