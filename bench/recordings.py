"""Recordings side by side, in one run: how fast the headless monitor writes JSON Lines
and msgpack recordings, how fast each reads back, and what ``auditmon report`` takes
(time, peak memory) on a recording of 10 million events.

Usage:  .venv/bin/python bench/recordings.py [--quick] [--events N] [--markdown FILE]

Writing: an agent's stream (a real Unix socket, auditmon's own ingest) into no sink
("decode only": what the monitor does for every event whatever it records), the msgpack
recorder and the JSON Lines recorder (with its helper process, in one process, and
with the helper but without the C renderer: the Python path alone), for two streams:
bench/run.py's synthetic batch (three short arguments per event) and a mix shaped like
a real run (imports with their sys.path, opens, code objects, connections, commands).
Reading: every event of those recordings through ``Recording`` (what replay, report and
diff read with), as records, as batches and as lazy batches (``chunks(lazy=True)``,
what replay, report and diff use), beside the decode-only rate.  Report: a synthetic
recording of ``--events`` events (10 million; ``--quick`` 1 million) in each encoding, generated
here and deleted after, reported by ``auditmon report --json`` in a process of its own.

Recordings are written in the temporary directory (``TMPDIR``), whose file system the
output names: on a disk the kernel's flushing takes CPU beside the writers, more for
JSON Lines (twice the bytes); each timed run starts after ``os.sync()``, so none pays
for the writes of the one before.  It prints markdown tables and asserts nothing;
docs/benchmarks.md quotes a run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from harness import ingest_rate, machine  # noqa: E402

from auditmon import protocol  # noqa: E402
from auditmon.record import Recorder, Recording  # noqa: E402

BATCH = 2048
SYS_PATH = [
    "/work/project",
    "/usr/lib/python311.zip",
    "/usr/lib/python3.11",
    "/usr/lib/python3.11/lib-dynload",
    "/work/project/.venv/lib/python3.11/site-packages",
]
META_PATH = [
    protocol.Described("class _frozen_importlib.BuiltinImporter"),
    protocol.Described("class _frozen_importlib.FrozenImporter"),
    protocol.Described("class _frozen_importlib_external.PathFinder"),
]
STACK = [["/work/project/app/io.py", 41, "load"], ["/work/project/app/main.py", 12, "<module>"]]


def synthetic_batch(start: int) -> list[list[Any]]:
    """bench/run.py's batch: three short arguments per event."""
    return [
        [start + i, 1.7e9 + (start + i) * 1e-6, 140000, "bench.x", [i, "abc", None], None]
        for i in range(BATCH)
    ]


def mixed_batch(start: int) -> list[list[Any]]:
    """Events shaped like a real run's: what a Python program raises most."""
    events = []
    for i in range(BATCH):
        seq = start + i
        when = 1.7e9 + seq * 1e-6
        kind = seq % 8
        if kind == 0:
            name, args = "import", [f"pkg.mod{seq % 500}", None, SYS_PATH, META_PATH, []]
        elif kind in (1, 2):
            name, args = "open", [f"/work/project/data/file{seq % 2000}.txt", "r", 524288]
        elif kind == 3:
            code = protocol.Described(f"code <module> at /work/project/pkg/mod{seq % 500}.py:1")
            name, args = "exec", [code]
        elif kind == 4:
            name, args = "os.listdir", [f"/work/project/pkg{seq % 50}"]
        elif kind == 5:
            sock = protocol.Described("socket AF_INET SOCK_STREAM fd=5")
            name, args = "socket.connect", [sock, ["127.0.0.1", 40000 + seq % 100]]
        elif kind == 6:
            name, args = "marshal.loads", [protocol.Cut(b"\xe3" * 64, 4096)]
        else:
            argv = ["/usr/bin/git", "status", f"--porcelain={seq % 3}"]
            name, args = "subprocess.Popen", ["/usr/bin/git", argv, None, None]
        events.append([seq, when, 140000, name, args, STACK if kind == 1 else None])
    return events


STREAMS: dict[str, Callable[[int], list[list[Any]]]] = {
    "synthetic (bench/run.py's batch)": synthetic_batch,
    "a mix like a real run": mixed_batch,
}


def wire_stream(make: Callable[[int], list[list[Any]]], batches: int) -> bytes:
    hello = protocol.packb([protocol.HELLO, {"v": protocol.VERSION, "pid": 1, "argv": ["b"]}])
    parts = [hello]
    for b in range(batches):
        parts.append(protocol.packb([protocol.EVENTS, make(1 + b * BATCH)]))
    parts.append(protocol.packb([protocol.GOODBYE, {"last_seq": batches * BATCH}]))
    return b"".join(parts)


def read_rate(path: Path, batches: bool, lazy: bool = False) -> float:
    recording = Recording(path)
    started = time.perf_counter()
    count = 0
    if batches:
        for item in recording.chunks(lazy=lazy):
            if type(item) is not dict:
                count += len(item.events)
    else:
        for record in recording:
            count += record["type"] == "event"
    return count / (time.perf_counter() - started)


def bench_streams(quick: bool, directory: Path) -> list[str]:
    batches = 100 if quick else 400
    total = batches * BATCH
    lines = [
        f"### Writing and reading recordings ({total:,} events, events per second, best of 3)",
        "",
        "| stream | decode only | msgpack written | JSON Lines written | JSONL / msgpack "
        "| JSONL written in one process | that / msgpack "
        "| JSONL, the Python path alone (helper) | that / msgpack "
        "| msgpack read | JSONL read | read as batches (msgpack, JSONL) "
        "| slower read / decode only | read lazily (msgpack, JSONL) | slower / decode only |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, make in STREAMS.items():
        payload = wire_stream(make, batches)
        packed, jsonl = directory / "r.amrec", directory / "r.jsonl"
        alone, python = directory / "alone.jsonl", directory / "python.jsonl"
        best: dict[str, float] = {}
        for _ in range(3):  # the kinds take turns, so a slow spell hits them all
            for key, path, helper, native in (
                ("decode", None, None, True),
                ("msgpack", packed, None, True),
                ("jsonl", jsonl, True, True),
                ("jsonl alone", alone, False, True),
                ("jsonl python", python, True, False),  # without the C renderer
            ):
                os.sync()  # none waits on the writes of the one before (the disk's flushing)
                sink = None if path is None else Recorder(path, helper=helper, native=native)
                time.sleep(0.5)  # a helper's start (as at a monitor's) is not timed
                rate = ingest_rate(payload, total, sink, directory)
                best[key] = max(best.get(key, 0.0), rate)
            for key, path, as_batches in (
                ("read msgpack", packed, False),
                ("read jsonl", jsonl, False),
                ("batches msgpack", packed, True),
                ("batches jsonl", jsonl, True),
            ):
                best[key] = max(best.get(key, 0.0), read_rate(path, as_batches))
            for key, path in (("lazy msgpack", packed), ("lazy jsonl", jsonl)):
                best[key] = max(best.get(key, 0.0), read_rate(path, True, lazy=True))
        if not _event_lines(jsonl) == _event_lines(alone) == _event_lines(python):
            raise SystemExit("the JSON Lines written differ from one configuration to another")
        slower = min(best["read msgpack"], best["read jsonl"])
        lazy = min(best["lazy msgpack"], best["lazy jsonl"])
        lines.append(
            f"| {label} | {best['decode']:,.0f} | {best['msgpack']:,.0f} | {best['jsonl']:,.0f} "
            f"| {best['jsonl'] / best['msgpack']:.2f} | {best['jsonl alone']:,.0f} "
            f"| {best['jsonl alone'] / best['msgpack']:.2f} "
            f"| {best['jsonl python']:,.0f} | {best['jsonl python'] / best['msgpack']:.2f} "
            f"| {best['read msgpack']:,.0f} "
            f"| {best['read jsonl']:,.0f} "
            f"| {best['batches msgpack']:,.0f}, {best['batches jsonl']:,.0f} "
            f"| {slower / best['decode']:.2f} "
            f"| {best['lazy msgpack']:,.0f}, {best['lazy jsonl']:,.0f} "
            f"| {lazy / best['decode']:.2f} |"
        )
    return lines + [""]


def _event_lines(path: Path) -> list[bytes]:
    """The event records' lines (the others hold the times the ingest saw)."""
    return [line for line in path.read_bytes().splitlines() if line.startswith(b'{"type":"event"')]


def write_big_recording(path: Path, events: int) -> None:
    """A recording of ``events`` mixed events from 4 processes, written through the
    recorder as the monitor writes it (wire bytes through for msgpack)."""
    from auditmon.model import Process

    recorder = Recorder(path)
    processes = []
    for n in range(4):
        process = Process(id=n + 1)
        process.apply_hello(
            {
                "pid": 1000 + n,
                "ppid": 999 if n == 0 else 1000,
                "argv": ["python3", "app.py"],
                "executable": "/usr/bin/python3",
                "cwd": "/work/project",
                "start": 1.7e9,
            }
        )
        recorder.process_started(process)
        processes.append(process)
    templates = [mixed_batch(1 + b * BATCH) for b in range(8)]
    raws = [protocol.packb(t) for t in templates]
    decoded = [list(protocol.unpackb(raw)) for raw in raws]
    written = 0
    while written < events:
        k = (written // BATCH) % len(templates)
        process = processes[(written // BATCH) % 4]
        recorder.events(process, decoded[k], raws[k])
        written += BATCH
    for process in processes:
        process.status, process.end_time = "exited", 1.7e9 + 100
        recorder.process_ended(process)
    recorder.close()


# `auditmon report --json FILE` in a process of its own, which then prints its peak RSS:
# VmHWM, which exec resets (ru_maxrss would count the forked harness before the exec).
REPORT_MEASURED = """
import sys
from auditmon.cli import main
status = main(["report", "--json", sys.argv[1]])
with open("/proc/self/status") as status_file:
    peak = next(line.split()[1] for line in status_file if line.startswith("VmHWM:"))
print(peak, file=sys.stderr)
sys.exit(status)
"""


def bench_report(events: int, directory: Path) -> list[str]:
    lines = [
        f"### `auditmon report --json` on a recording of {events:,} events",
        "",
        "| encoding | file size | generated in | report time | events/s | peak memory |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for suffix, label in ((".amrec", "msgpack"), (".jsonl", "JSON Lines")):
        path = directory / f"big{suffix}"
        started = time.perf_counter()
        write_big_recording(path, events)
        generated = time.perf_counter() - started
        size = path.stat().st_size
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", REPORT_MEASURED, str(path)], capture_output=True, cwd=ROOT
        )
        elapsed = time.perf_counter() - started
        path.unlink()
        if result.returncode != 0:
            lines.append(f"| {label} | failed: {result.stderr.decode()[-200:]} |||||")
            continue
        peak = int(result.stderr.decode().split()[-1])  # KiB
        lines.append(
            f"| {label} | {size / 2**20:,.0f} MiB | {generated:.1f} s | {elapsed:.1f} s "
            f"| {events / elapsed:,.0f} | {peak / 1024:,.0f} MiB |"
        )
    return lines + [""]


def _where(directory: Path) -> str:
    """The directory and its file system's type: a disk's flushing costs CPU too."""
    import psutil

    mounts = [p for p in psutil.disk_partitions(all=True) if directory.is_relative_to(p.mountpoint)]
    fstype = max(mounts, key=lambda p: len(p.mountpoint)).fstype if mounts else "?"
    return f"{directory.parent} ({fstype})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events")
    parser.add_argument("--events", type=int, help="events in the reported recording")
    parser.add_argument("--no-report", action="store_true", help="skip the report timing")
    parser.add_argument("--markdown", type=Path, help="also write the tables to FILE")
    args = parser.parse_args()
    date = time.strftime("%Y-%m-%d")
    with tempfile.TemporaryDirectory() as tmp:
        lines = [f"Machine: {machine()}. Date: {date}. Recordings in {_where(Path(tmp))}.", ""]
        lines += bench_streams(args.quick, Path(tmp))
        if not args.no_report:
            events = args.events or (1_000_000 if args.quick else 10_000_000)
            lines += bench_report(events, Path(tmp))
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
