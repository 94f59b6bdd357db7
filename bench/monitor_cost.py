"""Monitor cost: events per second taken in by the headless recorder, the session
model and the live TUI, and the session model's memory after many events."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import ingest_rate  # (and the checkout on sys.path)

from auditmon import protocol
from auditmon.model import Process, Session
from auditmon.record import Recorder


def bench_monitor(quick: bool) -> list[str]:
    batches = 100 if quick else 500
    batch = [
        [i, 1.7e9 + i * 1e-6, 140000, "bench.x", [i, "abc", None], None] for i in range(1, 2049)
    ]
    hello = protocol.packb([protocol.HELLO, {"v": protocol.VERSION, "pid": 1, "argv": ["b"]}])
    payload = hello + protocol.packb([protocol.EVENTS, batch]) * batches
    total = batches * len(batch)
    lines = [
        "### The monitor (events per second, one agent connection, one core for ingest)",
        "",
        "| sink | events/s |",
        "|---|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for label, make in (
            ("decode only", lambda: None),
            ("session model (the UI's aggregation)", Session),
            ("msgpack recording", lambda: Recorder(Path(tmp) / "r.amrec")),
            ("JSON Lines recording", lambda: Recorder(Path(tmp) / "r.jsonl")),
            (
                "JSON Lines recording in one process",
                lambda: Recorder(Path(tmp) / "r1.jsonl", helper=False),
            ),
        ):
            sink = make()
            time.sleep(0.5)  # a recorder's helper starts with the monitor: not timed
            rate = ingest_rate(payload, total, sink, Path(tmp))
            lines.append(f"| {label} | {rate:,.0f} |")
    lines.append(f"| {TUI_ROW} | {tui_events_per_second(2.0 if quick else 4.0):,.0f} |")
    lines.append("")
    count = 1_000_000 if quick else 10_000_000
    measured = subprocess.run(
        [sys.executable, __file__, str(count)],
        capture_output=True,
        text=True,
        check=True,
    )
    return lines + [measured.stdout.strip(), ""]


TUI_ROW = "the live TUI under Textual's Pilot (a real target raising events flat out)"


def tui_events_per_second(seconds: float) -> float:
    """What the whole live monitor takes in: the real app, headless under Pilot, on a
    target under the agent that raises more than it can take (the rest is counted as
    dropped). bench/ui_responsiveness.py measures its responsiveness at given rates."""
    import asyncio

    from ui_responsiveness import measure  # beside this script

    return asyncio.run(measure(100_000_000, seconds=seconds))["per_second"]


def memory_after(count: int) -> str:
    """The session model's growth over ``count`` events, measured in a fresh process."""
    import psutil

    me = psutil.Process()
    before = me.memory_info().rss
    session = Session()
    process = Process(id=1)
    process.apply_hello({"pid": 1, "v": 1})
    session.process_started(process)
    names = [f"bench.e{k}" for k in range(50)]
    done = 0
    t = 1.7e9
    while done < count:
        batch = [
            [done + i, t + (done + i) * 1e-5, 1, names[i % 50], [i % 1000, "abc"], None]
            for i in range(2048)
        ]
        session.events(process, batch)
        done += len(batch)
    after = me.memory_info().rss
    return (
        f"Monitor memory after {done:,} events (50 event names, 1 000 distinct values each, "
        f"one process): {after / 2**20:.0f} MiB resident, {(after - before) / 2**20:.1f} MiB "
        f"more than before the first event."
    )


if __name__ == "__main__":
    print(memory_after(int(sys.argv[1])))
