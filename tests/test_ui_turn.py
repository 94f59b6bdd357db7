"""Ingest gives way to the UI's redraws, and snapshots slow down where redraws are slow."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from helpers import wait_for

from auditmon.monitor.live import LiveMonitor
from auditmon.monitor.turn import REDRAW_SHARE, SLOWEST_INTERVAL, UiTurn
from auditmon.sources.launch import RunFeed


def waiting(turn: UiTurn) -> threading.Thread:
    thread = threading.Thread(target=turn.wait, daemon=True)
    thread.start()
    return thread


def test_ingest_goes_on_at_once_when_no_redraw_is_under_way():
    thread = waiting(UiTurn())
    thread.join(5)
    assert not thread.is_alive()


def test_ingest_waits_for_a_redraw_until_it_is_done():
    turn = UiTurn(grace=600)
    turn.redrawing()
    thread = waiting(turn)
    time.sleep(0.05)
    assert thread.is_alive()
    turn.redrawn()
    thread.join(5)
    assert not thread.is_alive()
    assert turn.last_redraw > 0


def test_a_ui_that_never_finishes_holds_ingest_up_only_for_the_grace():
    turn = UiTurn(grace=0.01)
    turn.redrawing()
    thread = waiting(turn)
    thread.join(5)
    assert not thread.is_alive()


def test_snapshots_slow_down_only_as_far_as_redraws_need():
    turn = UiTurn()
    assert turn.interval(0.25) == 0.25  # no redraw yet
    turn.last_redraw = 0.01
    assert turn.interval(0.25) == 0.25
    turn.last_redraw = 0.05
    assert turn.interval(0.25) == 0.05 / REDRAW_SHARE
    turn.last_redraw = 5.0
    assert turn.interval(0.25) == SLOWEST_INTERVAL
    assert turn.interval(2.0) == 2.0  # a slower cadence asked for is kept


@pytest.mark.system
def test_a_process_ending_is_shown_without_waiting_for_the_cadence():
    """Snapshots may come only once a second where redraws are slow; a process that
    starts or ends (or the command's state changing) is news, shown at once."""
    source = LiveMonitor(RunFeed([sys.executable, "-c", "import time; time.sleep(0.3)"], {}))
    source.turn.interval = lambda fastest: 3600.0  # no snapshot by the cadence after the first
    snapshots = []
    source.launch()
    source.start(snapshots.append)
    try:
        wait_for(
            lambda: any(s.processes and s.processes[0].state != "running" for s in snapshots),
            message="a snapshot showing the process ended",
            interval=0.05,
            state=lambda: [s.processes for s in snapshots],
        )
    finally:
        source.terminate()
        source.stop()
