"""Make the SVGs in screenshots/ from a real run of examples/busy.py.

Usage: .venv/bin/python tools/screenshots.py

It launches the demo under the agent exactly as `auditmon run` does, drives the real app
with Textual's Pilot, and saves the main screen, the heatmap with a selected cell, an
event's argument view and one occurrence's detail.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from auditmon.monitor.live import LiveMonitor
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
    for name in ("main", "heatmap", "arguments", "detail"):
        print(OUT / f"{name}.svg")


if __name__ == "__main__":
    asyncio.run(main())
