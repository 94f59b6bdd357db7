"""How responsive the live UI stays while a target raises events at a given rate.

Usage: .venv/bin/python bench/ui_responsiveness.py [RATE[xPROCESSES] ...]
       (default: 1000 200000 500000x4)

For each rate it runs bench/paced_target.py under the agent (or bench/paced_tree.py:
PROCESSES targets sharing the rate), opens the real app with
Textual's Pilot (headless), and measures the event loop's lag: how late a 10 ms timer
fires while ingest and aggregation run on their thread. A key press is handled on that
loop, so its redraw waits at most about this long. "seen per s" is the events the UI
had aggregated by the end over the time since the target was launched: at a rate higher
than it can take (say 100000000), what the whole live monitor ingests. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

from auditmon.monitor.live import LiveMonitor
from auditmon.sources.launch import RunFeed
from auditmon.ui.app import AuditmonApp

TARGET = Path(__file__).with_name("paced_target.py")
TREE = Path(__file__).with_name("paced_tree.py")


async def measure(rate: int, processes: int = 1, seconds: float = 4.0) -> dict[str, float]:
    if processes > 1:
        command = [sys.executable, str(TREE), str(processes), str(seconds + 2), str(rate)]
    else:
        command = [sys.executable, str(TARGET), str(seconds + 2), str(rate)]
    source = LiveMonitor(RunFeed(command, {}))
    launched = time.perf_counter()
    source.launch()
    app = AuditmonApp(source)
    lags: list[float] = []
    async with app.run_test(size=(140, 40)) as pilot:
        await asyncio.sleep(1)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append((time.perf_counter() - started - 0.01) * 1000)
        snapshot = app.latest
        elapsed = time.perf_counter() - launched
        await pilot.press("q")
    source.terminate()
    source.stop()
    lags.sort()
    return {
        "rate": rate,
        "processes": processes,
        "median": statistics.median(lags),
        "p95": lags[int(len(lags) * 0.95)],
        "max": lags[-1],
        "events": snapshot.total_events if snapshot else 0,
        "per_second": (snapshot.total_events if snapshot else 0) / elapsed,
        "dropped": snapshot.total_dropped if snapshot else 0,
    }


def main() -> None:
    specs = sys.argv[1:] or ["1000", "200000", "500000x4"]
    print(
        "| events/s raised | processes | loop lag median ms | p95 ms | max ms "
        "| events seen | seen per s | dropped |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for spec in specs:
        rate, _, processes = spec.partition("x")
        r = asyncio.run(measure(int(rate), int(processes or 1)))
        print(
            f"| {r['rate']:,} | {r['processes']} | {r['median']:.1f} | {r['p95']:.1f} "
            f"| {r['max']:.1f} | {r['events']:,} | {r['per_second']:,.0f} | {r['dropped']:,} |"
        )


if __name__ == "__main__":
    main()
