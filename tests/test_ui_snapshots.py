"""SVG snapshots of the key screens, with fixed data and a fixed clock (UTC).

Regenerate after a deliberate UI change with: pytest tests/test_ui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import os
import time

from doubles import StaticMonitor
from fakedata import NOW, build_session

from auditmon.ui.app import AuditmonApp
from auditmon.ui.screens.event import EventScreen, ValueTable

os.environ["TZ"] = "UTC"
time.tzset()


async def settle(pilot) -> None:
    """Snapshots and answers come as messages, a panel's new height with the next
    layout: let them all arrive before the picture is taken."""
    for _ in range(3):
        await pilot.pause()


def make_app() -> AuditmonApp:
    source = StaticMonitor(
        build_session(),
        NOW,
        state="running app.py (pid 4100)",
        mode="run",
        output=[("stdout", "serving on :8080"), ("stderr", "warning: cache cold")],
    )
    return AuditmonApp(source)


def test_main_screen(snap_compare):
    assert snap_compare(make_app(), terminal_size=(140, 40), run_before=settle)


async def settle_until(pilot, ready, pauses: int = 200) -> None:
    """Pause until ``ready(screen)`` holds (an answer may take several message turns
    to arrive and lay out, more on a busy machine), then settle."""
    for _ in range(pauses):
        if ready(pilot.app.screen):
            break
        await pilot.pause()
    else:
        raise AssertionError(f"{pilot.app.screen!r} never became ready")
    await settle(pilot)
    await settle_picture(pilot)


async def settle_picture(pilot, tries: int = 50) -> None:
    """Pause until two pictures of the screen in a row are the same: a table's column
    widths follow its rows by a turn or more (the header row after the cells)."""
    picture = pilot.app.export_screenshot()
    for _ in range(tries):
        await pilot.pause(0.02)
        again = pilot.app.export_screenshot()
        if again == picture:
            return
        picture = again
    raise AssertionError("the screen never stopped changing")


def detail_shown(screen) -> bool:
    """The event screen has its answer and every value table is filled."""
    tables = list(screen.query(ValueTable)) if isinstance(screen, EventScreen) else []
    return (
        isinstance(screen, EventScreen)
        and screen.detail is not None
        and len(tables) == len(screen.detail.arguments)
        and all(table.row_count for table in tables)
    )


async def open_event_view(pilot) -> None:
    await settle(pilot)
    await pilot.press("enter")
    await settle_until(pilot, detail_shown)


def test_drill_down(snap_compare):
    assert snap_compare(make_app(), terminal_size=(140, 40), run_before=open_event_view)


async def open_occurrence(pilot) -> None:
    await settle(pilot)
    await pilot.press("down", "down", "down", "enter")
    await settle_until(pilot, detail_shown)


def test_occurrence_detail(snap_compare):
    # subprocess.Popen (4th by count) carries a captured stack
    assert snap_compare(
        make_app(),
        press=["enter"],
        terminal_size=(140, 40),
        run_before=open_occurrence,
    )


def test_help(snap_compare):
    assert snap_compare(
        make_app(), press=["question_mark"], terminal_size=(140, 40), run_before=settle
    )


def test_narrow_80x24(snap_compare):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=settle)


def test_no_color(snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(), terminal_size=(140, 40), run_before=settle)


async def open_process_view(pilot) -> None:
    await settle(pilot)
    table = pilot.app.query_one("#processes")
    table.focus()
    await pilot.press("down", "down", "enter")
    await settle(pilot)


def test_process_view(snap_compare):
    assert snap_compare(make_app(), terminal_size=(140, 40), run_before=open_process_view)


def test_tail(snap_compare):
    assert snap_compare(make_app(), press=["t"], terminal_size=(140, 40), run_before=settle)


def test_confirm_quit_while_the_command_runs(snap_compare):
    app = make_app()
    app.monitor.command_running = True
    assert snap_compare(app, press=["ctrl+c"], terminal_size=(140, 40), run_before=settle)


def test_alerts_view(snap_compare):
    from test_ui_investigation import with_alerts

    source = StaticMonitor(with_alerts(), NOW, state="running app.py (pid 4100)", mode="run")
    assert snap_compare(
        AuditmonApp(source), press=["a"], terminal_size=(140, 40), run_before=settle
    )
