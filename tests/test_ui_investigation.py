"""An investigation that flows, by keyboard: processes, values, moving, searching."""

from __future__ import annotations

import io

import pytest
from doubles import StaticMonitor
from fakedata import NOW, T0, build_session
from helpers import wait_until
from rich.console import Console

from auditmon.ui.app import AuditmonApp
from auditmon.ui.messages import SnapshotReady
from auditmon.ui.screens import (
    AlertsScreen,
    EventScreen,
    InventoryScreen,
    OccurrenceScreen,
    ProcessScreen,
    TailScreen,
)
from auditmon.ui.screens.event import ValueTable
from auditmon.ui.screens.occurrences import OccurrenceTable
from auditmon.ui.widgets import EventsTable, ProcessTable, StatusLine

SIZE = (160, 48)


@pytest.fixture
def app():
    return AuditmonApp(StaticMonitor(build_session(), NOW, mode="run", state="running app.py"))


def names(app) -> list[str]:
    table = app.query_one(EventsTable)
    return [table.get_row_at(i)[0].plain for i in range(table.row_count)]


def status(app) -> str:
    return str(app.screen.query_one(StatusLine).render())


async def test_enter_on_a_process_shows_it_whole_and_escape_returns_to_all(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one(ProcessTable).focus()
        await pilot.press("down", "down")  # the child, python3 -c import json
        await pilot.pause()
        assert "pid 4101" in status(app)  # the status line names the scope
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, ProcessScreen) and app.screen.detail)
        detail = app.screen.detail
        assert detail.process.argv == ["/usr/bin/python3", "-c", "import json"]
        assert detail.ancestors == ((4100, "/usr/bin/python3 app.py --serve"),)
        assert detail.top_events == (("import", 12), ("marshal.loads", 1))
        console = Console(width=160, record=True, file=io.StringIO())
        console.print(app.screen.render_detail(detail))
        body = console.export_text()
        assert "/srv/app" in body and "exited with status 0" in body and "4100" in body
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("escape")  # on the main screen: back to all processes
        await pilot.pause()
        assert app.view.process_id is None
        assert app.query_one(ProcessTable).cursor_row == 0


async def test_the_command_column_widens_with_the_terminal(app):
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        narrow = app.query_one(ProcessTable).command_width
        await pilot.resize_terminal(220, 60)
        await pilot.pause()
        await pilot.pause()
        assert app.query_one(ProcessTable).command_width > narrow


async def test_processes_sort_flat_by_a_column(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("o")  # tree -> events
        await pilot.pause()
        assert app.view.process_sort == "events"
        table = app.query_one(ProcessTable)
        pids = [str(table.get_row_at(i)[0]) for i in range(1, table.row_count)]
        assert pids == ["4100", "4101"]  # 184 events, then 13


async def test_enter_on_a_value_filters_on_it(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one(EventsTable).move_cursor(row=names(app).index("open"))
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, EventScreen) and app.screen.detail)
        await pilot.pause()
        mode = [t for t in app.screen.query(ValueTable) if t.argument == "mode"][0]
        mode.focus()
        values = [str(mode.get_row_at(i)[1]) for i in range(mode.row_count)]
        mode.move_cursor(row=values.index("w"))
        await pilot.press("enter")
        await wait_until(lambda: app.screen.detail.count == 8, message="the filtered detail")
        assert 'arg.mode = "w"' in app.view.filter.text
        flags = [t for t in app.screen.query(ValueTable) if t.argument == "flags"][0]
        assert str(flags.get_row_at(0)[1]) == "O_WRONLY|O_CREAT|O_TRUNC"  # read as people do
        await pilot.press("escape")
        await pilot.pause()
        assert names(app) == ["open"] and "filter:" in status(app)


async def test_values_beyond_the_first_are_counted_as_more():
    session = build_session()
    proc = session.processes[1].process
    session.events(
        proc, [[1000 + i, T0 + 39, 1, "many.paths", [f"/p/{i}"], None] for i in range(250)]
    )
    app = AuditmonApp(StaticMonitor(session, NOW, mode="run"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one(EventsTable).move_cursor(row=names(app).index("many.paths"))
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, EventScreen) and app.screen.detail)
        await pilot.pause()
        (table,) = app.screen.query(ValueTable)
        assert table.row_count == 201
        assert str(table.get_row_at(200)[1]) == "+50 more"


async def test_moving_home_end_next_warning_and_search(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        events = app.query_one(EventsTable)
        await pilot.press("end")
        assert events.cursor_row == events.row_count - 1
        await pilot.press("g")
        assert events.cursor_row == 0
        await pilot.press("w")  # open is first and a warning: the next one
        assert events.risks[names(app)[events.cursor_row]] == "warning"
        assert events.cursor_row > 0
        events.move_cursor(row=names(app).index("open"))
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, EventScreen) and app.screen.detail)
        table = app.screen.query_one(OccurrenceTable)
        await pilot.press("w")  # the next open for writing
        row = table.get_row_at(table.cursor_row)
        assert "mode=w" in str(row[4])
        await pilot.press("ctrl+f")
        await pilot.press(*"hosts", "enter")
        await pilot.pause()
        assert "/etc/hosts" in str(table.get_row_at(table.cursor_row)[4])


async def test_the_cursor_stays_on_its_event_when_rows_resort(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        events = app.query_one(EventsTable)
        events.move_cursor(row=names(app).index("mylib.login"))
        session = app.monitor.session
        proc = session.processes[1].process
        session.events(
            proc, [[2000 + i, T0 + 39.5, 1, "mylib.login", ["bob"], None] for i in range(500)]
        )
        app.post_message(SnapshotReady(app.monitor.snapshot()))
        await pilot.pause()
        assert names(app)[0] == "mylib.login"  # it went to the top by count
        assert names(app)[events.cursor_row] == "mylib.login"


async def test_a_click_on_a_heading_sorts_the_events(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        events = app.query_one(EventsTable)
        events.post_message(EventsTable.SortChosen("name"))
        await pilot.pause()
        await pilot.pause()
        assert names(app) == sorted(names(app))


async def test_the_tail_follows_the_latest_events(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await wait_until(lambda: isinstance(app.screen, TailScreen))
        table = app.screen.query_one(OccurrenceTable)
        await wait_until(lambda: table.row_count > 0, message="the tail's rows")
        times = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert times == sorted(times)  # oldest first, the latest at the bottom
        assert table.cursor_row == table.row_count - 1


async def test_a_glob_that_names_nothing_known_says_so(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        app.query_one("#filter").value = "sokcet.*"
        await pilot.press("enter")
        await pilot.pause()
        assert any(
            "no known event matches 'sokcet.*'" in str(n.message) for n in app._notifications
        )


async def test_a_run_that_reported_nothing_says_why():
    session = build_session()
    session.processes.clear()
    session.event_counts.clear()
    app = AuditmonApp(StaticMonitor(session, NOW, mode="run", state="ls exited with status 0"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        empty = app.query_one("#empty")
        assert empty.display and "No Python process reported" in str(empty.render())


def with_alerts():
    """The fixed session, with rules loaded and two rules' alerts on the app's process."""
    from auditmon.model.alerts import Alert

    session = build_session()
    book = session.alerts
    book.active, book.rules_loaded = True, 33
    app_pid = 4100
    (popen,) = [o for o in session.processes[1].stats["subprocess.Popen"].recent][:1]
    for i in range(3):
        book.alert(
            Alert(
                "Shell command run",
                "notice",
                f"git status run #{i}",
                ("process",),
                {},
                app_pid,
                popen.seq + i,
                T0 + 10 + i,
                "subprocess.Popen",
                process_id=1,
                args=popen.args,
                stack=popen.stack,
            )
        )
    book.alert(
        Alert(
            "Read SSH private keys or configuration",
            "warning",
            "SSH file read: ~/.ssh/id_rsa",
            ("secrets",),
            {},
            app_pid,
            77,
            T0 + 30,
            "open",
            process_id=1,
            args=("/root/.ssh/id_rsa", "r", 0),
        )
    )
    return session


async def test_the_alerts_view_counts_by_rule_and_opens_the_triggering_event():
    app = AuditmonApp(StaticMonitor(with_alerts(), NOW, mode="run"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        line = status(app)
        assert "1 warning" in line and "3 notice" in line  # never hidden
        table = app.query_one(ProcessTable)
        assert str(table.get_row_at(1)[1]).startswith("▲ ")  # the process that alerted
        await pilot.press("a")
        await wait_until(lambda: isinstance(app.screen, AlertsScreen))
        await pilot.pause()
        groups = app.screen.query_one("#alert-groups")
        rows = [[str(c) for c in groups.get_row_at(i)] for i in range(groups.row_count)]
        assert [r[:3] for r in rows] == [
            ["warning", "Read SSH private keys or configuration", "1"],
            ["notice", "Shell command run", "3"],
        ]
        alerts = app.screen.query_one("#alerts")
        assert alerts.row_count == 1  # the selected rule's
        await pilot.press("enter")  # the rule's latest alert: its event
        await wait_until(lambda: isinstance(app.screen, OccurrenceScreen))
        assert app.screen.occurrence.event == "open" and app.screen.occurrence.seq == 77


async def test_the_filter_selects_alerted_events():
    app = AuditmonApp(StaticMonitor(with_alerts(), NOW, mode="run"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        app.query_one("#filter").value = "alerted"
        await pilot.press("enter")
        await pilot.pause()
        assert "subprocess.Popen" in names(app)


async def test_the_inventory_view_lists_what_the_scope_touched(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("i")
        await wait_until(lambda: isinstance(app.screen, InventoryScreen) and app.screen.inventory)
        inventory = app.screen.inventory
        assert [c["argv"] for c in inventory.commands] == [["git", "status"]]
        written = {f["path"] for f in inventory.files if "written" in f["ops"]}
        assert written == {"<cwd>/log/30.log", "<cwd>/log/35.log"}
        assert any(s["address"] == "10.0.0.8" for s in inventory.sockets)
