"""What rules cost, side by side in one run.

Usage:  .venv/bin/python bench/rules.py [--quick] [--only monitor|target]

The monitor: events per second the headless recorder (msgpack, the agent's bytes
written straight through) takes in with the built-in rule set loaded and without, the
two taking turns round by round over the same bytes on a real socket.  Two streams:
  a program's mix   the events of a real run (an import-heavy start-up, a file walk,
                    dataclasses and namedtuples, a subprocess, a local socket, a shell),
                    recorded under --rules default, so the watched events carry stacks
                    as they would; repeated to a million events or more
  custom events     one event name no rule watches, flat out (bench/run.py's stream)
The goal: with the rules, at least half the rate without them.

The target: what asking the native agent for the stacks of the events the rules watch
costs the process raising them (the agents stream to a listener that only reads):
  per event        a tight loop at a stack 16 frames deep raising a watched event
                   (sys.audit("open", ...)) and an unwatched one (sys.audit("bench.x")),
                   with and without the rules' AUDITMON_STACK settings; best of 5
  whole programs   python -c pass and an import-heavy start-up, wall time, the two
                   settings taking turns in a random order, mean extra time per round
                   with its standard error (stacks load the agent's Python side)

It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent_cost import AGENT_DROPS, PROGRAMS  # noqa: E402
from harness import Drain, paired_overhead, printed, program_runs_by_config  # noqa: E402

from auditmon import protocol  # noqa: E402
from auditmon.agentpath import agent_dir  # noqa: E402
from auditmon.commands.alerting import RULES_STACK_DEPTH  # noqa: E402
from auditmon.monitor.headless import Monitor  # noqa: E402
from auditmon.record import Recording  # noqa: E402
from auditmon.rules import load_rules  # noqa: E402

BATCH = 2048
MIX = r"""
import collections, dataclasses, json, email.parser, http.client, decimal, argparse, logging
import unittest, xml.etree.ElementTree, csv, sqlite3, urllib.request, socket, subprocess, os
import sys, tempfile, typing
for i in range(200):
    collections.namedtuple(f"T{i}", "a b c")
    dataclasses.make_dataclass(f"D{i}", ["x", ("y", int, 0)])
for root, dirs, files in os.walk(os.path.dirname(json.__file__)):
    for name in files:
        with open(os.path.join(root, name), "rb") as f:
            f.read(100)
with tempfile.TemporaryDirectory() as tmp:
    for i in range(200):
        with open(os.path.join(tmp, f"f{i}"), "w") as f:
            f.write("x")
server = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(server.getsockname())
client.close(); server.close()
subprocess.run([sys.executable, "-c", "pass"])
os.system("true")
"""

# A tight loop at a given stack depth: the agent walks up to RULES_STACK_DEPTH frames.
DEEP = (
    """
import sys, time
def body(n):
    for i in range(n):
        {stmt}
def nest(k, n):
    return body(n) if k == 0 else nest(k - 1, n)
"""
    + AGENT_DROPS
    + """
n = {n}
nest({depth}, 1000)
best = None
for _ in range(5):
    t = time.perf_counter_ns()
    nest({depth}, n)
    dt = time.perf_counter_ns() - t
    best = dt if best is None or dt < best else best
print(best, agent_drops())
"""
)
WATCHED = 'sys.audit("open", "/srv/data/file.txt", "r", 524288)'
UNWATCHED = 'sys.audit("bench.x", i)'


def machine() -> str:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}; "
        f"CPython {platform.python_version()}"
    )


# -- the monitor ---------------------------------------------------------------------------
def recorded_mix(directory: Path) -> list[list]:
    """The events of one run of MIX under ``auditmon run --rules default``."""
    script = directory / "mix.py"
    script.write_text(MIX)
    record = directory / "mix.amrec"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITMON_")}
    env.pop("PYTHONPATH", None)
    subprocess.run(
        [sys.executable, "-m", "auditmon", "run", "--headless", "--rules", "default"]
        + ["--record", str(record), "--", sys.executable, str(script)],
        check=True,
        capture_output=True,
        env=env,
        cwd=directory,
    )
    return [
        [r["seq"], r["time"], r["thread"], r["event"], r["args"], r.get("stack")]
        for r in Recording(record)
        if r["type"] == "event"
    ]


def payload(events: list[list], total: int) -> tuple[bytes, int]:
    """A hello and EVENTS messages holding ``events`` repeated to ``total`` or more."""
    hello = protocol.packb(
        [protocol.HELLO, {"v": protocol.VERSION, "pid": 1, "argv": ["bench"], "cwd": "/srv"}]
    )
    chunks, count, seq = [hello], 0, 0
    while count < total:
        for start in range(0, len(events), BATCH):
            batch = []
            for event in events[start : start + BATCH]:
                seq += 1
                batch.append([seq, *event[1:]])
            chunks.append(protocol.packb([protocol.EVENTS, batch]))
            count += len(batch)
    return b"".join(chunks), count


def ingest_rate(data: bytes, count: int, directory: Path, rules) -> tuple[float, int]:
    """Events per second the headless recorder takes in (with ``rules``, if given), and
    the alerts (shown and suppressed) the rules raised."""
    monitor = Monitor(directory / "out.amrec", rules)
    path = directory / f"m{time.monotonic_ns()}.sock"
    monitor.ingest.listen(path)

    def send() -> None:
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(path))
            client.sendall(data)

    started = time.perf_counter()
    threading.Thread(target=send, daemon=True).start()
    while not monitor.ingest.processes or monitor.ingest.open_connections:
        monitor.ingest.poll(0.05)
    elapsed = time.perf_counter() - started
    monitor.close()
    return count / elapsed, monitor.session.alerts.total


def bench_monitor(quick: bool) -> list[str]:
    rules = load_rules(["default"])
    rounds = 3 if quick else 7
    total = 400_000 if quick else 1_500_000
    lines = [
        "### The headless recorder (msgpack), with the built-in rules and without",
        "",
        "| stream | events | without rules (events/s) | with rules (events/s) | ratio | alerts |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        mix = recorded_mix(directory)
        custom = [[i, 1.7e9 + i * 1e-6, 1, "bench.x", [i, "abc", None], None] for i in range(BATCH)]
        for label, events in (("a program's mix", mix), ("custom events", custom)):
            data, count = payload(events, total)
            rates: dict[str, list[float]] = {"without": [], "with": []}
            alerts = 0
            for _ in range(rounds):
                rates["without"].append(ingest_rate(data, count, directory, None)[0])
                rate, alerts = ingest_rate(data, count, directory, rules)
                rates["with"].append(rate)
            without, with_ = (statistics.median(rates[k]) for k in ("without", "with"))
            lines.append(
                f"| {label} ({len(events):,} distinct) | {count:,} | {without:,.0f} "
                f"| {with_:,.0f} | {with_ / without:.2f} | {alerts:,} |"
            )
    return lines + [""]


# -- the target ---------------------------------------------------------------------------
def target_env(drain: Drain, stacks: tuple[str, ...]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITMON_")}
    env.update(
        PYTHONPATH=str(agent_dir()),
        AUDITMON_MODE="run",
        AUDITMON_SOCKET=str(drain.path),
        AUDITMON_AGENT="native",
    )
    if stacks:
        env.update(AUDITMON_STACK=",".join(stacks), AUDITMON_STACK_DEPTH=str(RULES_STACK_DEPTH))
    return env


def bench_target(quick: bool, python: str) -> list[str]:
    watched = load_rules(["default"]).watched_events()
    n = 50_000 if quick else 200_000
    lines = [
        "### What the stacks of watched events cost the target (native agent)",
        "",
        f"Per event: a tight loop {RULES_STACK_DEPTH} frames deep, best of 5 runs "
        f"of {n:,} events; plain: the agent without stack settings; stacks: with the "
        "built-in rules' AUDITMON_STACK.",
        "",
        "| event | plain (ns/event) | stacks (ns/event) | added by stacks | dropped |",
        "|---|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        drain = Drain(Path(tmp))
        try:
            plain, stacked = target_env(drain, ()), target_env(drain, watched)
            for label, stmt in (("watched (open)", WATCHED), ("unwatched", UNWATCHED)):
                code = DEEP.format(stmt=stmt, n=n, depth=RULES_STACK_DEPTH - 3)
                figures = {}
                for name, env in (("plain", plain), ("stacks", stacked)):
                    best, dropped = printed(python, code, env)[-2:]
                    figures[name] = (int(best) / n, int(dropped))
                lines.append(
                    f"| {label} | {figures['plain'][0]:,.0f} | {figures['stacks'][0]:,.0f} "
                    f"| {figures['stacks'][0] - figures['plain'][0]:+,.0f} "
                    f"| {figures['plain'][1]} / {figures['stacks'][1]} |"
                )
            lines += [
                "",
                "| program | plain (ms) | stacks (ms) | extra per round |",
                "|---|---:|---:|---:|",
            ]
            runs = 15 if quick else 61
            for label in ("python -c pass", "import-heavy start-up"):
                times = program_runs_by_config(
                    python, PROGRAMS[label], {"none": plain, "stacks": stacked}, runs
                )
                mean, error = paired_overhead(times, "stacks")
                lines.append(
                    f"| {label} | {statistics.median(times['none']) * 1e3:.1f} "
                    f"| {statistics.median(times['stacks']) * 1e3:.1f} "
                    f"| {mean:+.1f} % ± {error:.1f} ({runs} rounds) |"
                )
        finally:
            drain.close()
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and events")
    parser.add_argument("--only", choices=("monitor", "target"))
    parser.add_argument("--python", default=sys.executable, help="the targets' interpreter")
    args = parser.parse_args()
    lines = [f"Machine: {machine()}. {time.strftime('%Y-%m-%d')}.", ""]
    if args.only in (None, "monitor"):
        lines += bench_monitor(args.quick)
    if args.only in (None, "target"):
        lines += bench_target(args.quick, args.python)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
