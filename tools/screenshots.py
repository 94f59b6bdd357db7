"""Make the SVGs in screenshots/ from a real run of examples/busy.py.

Usage: .venv/bin/python tools/screenshots.py

It launches the demo under the agent exactly as `auditmon run` does, drives the real app
with Textual's Pilot, and saves the main screen, the heatmap with a selected cell, an
event's argument view and one occurrence's detail.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from auditmon.commands.alerting import Alerting
from auditmon.monitor.live import LiveMonitor
from auditmon.rules import load_rules
from auditmon.sources.launch import RunFeed
from auditmon.ui.app import AuditmonApp
from auditmon.ui.widgets import EventsTable, Heatmap

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "screenshots"
SIZE = (150, 42)


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    source = LiveMonitor(
        RunFeed(
            [sys.executable, str(ROOT / "examples" / "busy.py"), "12"], {"stack": ["subprocess.*"]}
        )
    )
    source.launch()
    app = AuditmonApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.sleep(8)
        await pilot.pause()
        app.save_screenshot("main.svg", str(OUT))
        app.query_one(Heatmap).focus()
        await pilot.press("down", "down", "down", "down", "left", "left")  # Files
        await pilot.pause()
        app.save_screenshot("heatmap.svg", str(OUT))
        events = app.query_one(EventsTable)
        events.focus()
        names = [events.get_row_at(i)[0].plain for i in range(events.row_count)]
        events.move_cursor(row=names.index("open"))
        await pilot.press("enter")
        await pilot.pause(0.5)
        app.save_screenshot("arguments.svg", str(OUT))
        await pilot.press("enter")
        await pilot.pause()
        app.save_screenshot("detail.svg", str(OUT))
        await pilot.press("escape", "escape", "q")
    source.terminate()
    source.stop()
    await alerts_view()
    for name in ("main", "heatmap", "arguments", "detail", "alerts"):
        print(OUT / f"{name}.svg")


async def alerts_view() -> None:
    """The alerts view, from examples/suspicious.py under the built-in rules, with a
    throwaway home for the fake secrets it reads and the start-up file it edits."""
    with tempfile.TemporaryDirectory() as home:
        os.environ["HOME"] = home  # the rules' ~, and the target's
        alerting = Alerting(load_rules(["default"]))
        feed = RunFeed(
            [sys.executable, str(ROOT / "examples" / "suspicious.py")],
            alerting.agent_options({}),
        )
        source = LiveMonitor(feed, rules=alerting.rules, alert_sinks=alerting.sinks)
        source.launch()
        app = AuditmonApp(source)
        async with app.run_test(size=SIZE) as pilot:
            await asyncio.sleep(4)
            await pilot.press("a")
            await pilot.pause(0.5)
            app.save_screenshot("alerts.svg", str(OUT))
            await pilot.press("escape", "q")
        source.terminate()
        source.stop()


if __name__ == "__main__":
    asyncio.run(main())
