"""Agent cost: tight and paced loops, whole programs and start-up under every
configuration (no hook, a counting C hook, an empty Python hook, both agents)."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from harness import (
    CONFIGS,
    Drain,
    Monitor,
    agent_dir,
    bare_interpreter,
    cell,
    configs,
    count_hook_dir,
    environment,
    instructions,
    paired_overhead,
    printed,
    program_instructions,
    program_runs_by_config,
    program_times,
)

# Run in a target: the events its agent (either) dropped, as it counts them itself.
AGENT_DROPS = """
def agent_drops():
    native = sys.modules.get("_auditmon_native")
    agent = native.agent() if native is not None else None
    if agent is not None:
        return agent.dropped()
    core = sys.modules.get("_auditmon_agent.core")
    agent = core.AGENT if core is not None else None
    return agent.dropped() if agent is not None and agent.native is None else 0
"""

TIGHT = (
    """
import sys, time
def body(n):
    for i in range(n):
        {stmt}
"""
    + AGENT_DROPS
    + """
n = {n}
body(1000)
best = None
for _ in range(5):
    t = time.perf_counter_ns()
    body(n)
    dt = time.perf_counter_ns() - t
    best = dt if best is None or dt < best else best
print(best, agent_drops())
"""
)

# The same loop in chunks with a pause after each, so that every event is recorded (none
# dropped): CPU time of all the target's threads, the agent's writer included, per event.
PACED = """
import sys, time
def chunk(n):
    for i in range(n):
        {stmt}
chunk(1000)
time.sleep(0.05)
best = None
for _ in range(5):
    cpu = 0
    for _ in range({chunks}):
        t = time.process_time_ns()
        chunk({size})
        time.sleep({pause})
        cpu += time.process_time_ns() - t
    best = cpu if best is None or cpu < best else best
print(best)
"""
PACED_CHUNK, PACED_PAUSE = 5000, 0.005

PROGRAMS = {
    "python -c pass": ["-c", "pass"],
    "import-heavy start-up": [
        "-c",
        "import json, email.parser, http.client, asyncio, decimal, argparse, logging, "
        "unittest, xml.etree.ElementTree, csv, sqlite3, urllib.request",
    ],
    "walk and read 2 000 files": ["-c", "WALK"],
    "50 subprocesses": [
        "-c",
        "import subprocess, sys\n"
        "for _ in range(50): subprocess.run([sys.executable, '-S', '-c', 'pass'])",
    ],
    "100 000 logging.info": [
        "-c",
        "import io, logging\n"
        "logging.basicConfig(level=logging.INFO, stream=io.StringIO())\n"
        "log = logging.getLogger('bench')\n"
        "for i in range(100000): log.info('message %d', i)",
    ],
}

WALK = (
    "import os, sys\n"
    "for root, dirs, files in os.walk(sys.argv[1]):\n"
    "    for name in files:\n"
    "        with open(os.path.join(root, name), 'rb') as f: f.read()\n"
)


def tight_loop(python: str, stmt: str, n: int, env: dict[str, str]) -> tuple[float, int]:
    """ns per event, best of 5, and the events the agent dropped (it says so itself)."""
    best, dropped = printed(python, TIGHT.format(stmt=stmt, n=n), env)[-2:]
    return int(best) / n, int(dropped)


def paced_loop(python: str, stmt: str, chunks: int, env: dict[str, str]) -> float:
    code = PACED.format(stmt=stmt, chunks=chunks, size=PACED_CHUNK, pause=PACED_PAUSE)
    return int(printed(python, code, env)[-1]) / (chunks * PACED_CHUNK)


def bench_agent(quick: bool, python: str) -> list[str]:
    # An installed wheel ships compiled bytecode; a checkout may not have it yet (or run
    # under PYTHONDONTWRITEBYTECODE): compile the agent so start-up is measured fairly.
    subprocess.run([python, "-m", "compileall", "-q", str(agent_dir())], check=True)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        empty_dir = tmp_path / "empty"
        empty_dir.mkdir()
        (empty_dir / "sitecustomize.py").write_text(
            "import sys\ndef _hook(event, args):\n    pass\nsys.addaudithook(_hook)\n"
        )
        subprocess.run([python, "-m", "compileall", "-q", str(empty_dir)], check=True)
        hooks = {"empty": empty_dir}
        count_dir = count_hook_dir(python, tmp_path / "count")
        if count_dir is not None:
            hooks["count"] = count_dir
        files = tmp_path / "files"
        for d in range(20):
            (files / str(d)).mkdir(parents=True)
            for f in range(100):
                (files / str(d) / f"{f}.txt").write_text("x" * 100)
        walk_script = tmp_path / "walk.py"
        walk_script.write_text(WALK)
        monitor, drain = Monitor(tmp_path), Drain(tmp_path)
        try:
            lines += bench_tight(monitor, drain, hooks, python, quick)
            lines += bench_programs(monitor, hooks, python, quick, walk_script, files)
            bare = bare_interpreter(python, tmp_path / "bare")
            lines += bench_startup(monitor, hooks, {"given": python, "bare venv": bare}, quick)
        finally:
            monitor.close()
            drain.close()
    return lines


def bench_tight(monitor, drain, hooks, python, quick) -> list[str]:
    n = 100_000 if quick else 300_000
    lines = [
        "### Tight loops (ns per event, best of 5; the loop body included)",
        "",
        "| loop | none | C hook | empty hook | python agent | native agent | python added "
        "| native added | native / none | native / empty | drops (python, native) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, stmt in (
        ("sys.audit('bench.x', i, 'abc')", "sys.audit('bench.x', i, 'abc')"),
        ("id(i)", "id(i)"),
    ):
        ns, drops = {}, {}
        for config in configs(hooks):
            env = environment(config, drain, hooks)
            ns[config], drops[config] = tight_loop(python, stmt, n, env)
        lines.append(
            f"| `{label}` | {ns['none']:.0f} | {cell(ns, 'count', '.0f')} | {ns['empty']:.0f} "
            f"| {ns['python']:.0f} "
            f"| {ns['native']:.0f} | +{ns['python'] - ns['none']:.0f} "
            f"| +{ns['native'] - ns['none']:.0f} | {ns['native'] / ns['none']:.2f} "
            f"| {ns['native'] / ns['empty']:.2f} | {drops['python']:,}, {drops['native']:,} |"
        )
    lines += bench_paced(monitor, hooks, python, quick)
    if not quick and shutil.which("valgrind"):
        stmt = "sys.audit('bench.x', i, 'abc')"
        counted = {
            c: instructions(python, stmt, environment(c, monitor, hooks)) for c in configs(hooks)
        }
        monitor.reset()
        lines += [
            "",
            "Instructions per event (callgrind, same loop, 20 000 events): "
            + ", ".join(f"{c} {counted[c]:,}" for c in counted),
        ]
    return lines + [""]


def bench_paced(monitor, hooks, python, quick) -> list[str]:
    """The tight loop with every event recorded: what each one costs the whole target."""
    chunks = 10 if quick else 20
    stmt = "sys.audit('bench.x', i, 'abc')"
    cpu, drops = {}, {}
    for config in configs(hooks):
        cpu[config] = paced_loop(python, stmt, chunks, environment(config, monitor, hooks))
        drops[config] = monitor.reset()[1]
    return [
        "",
        f"Paced (chunks of {PACED_CHUNK:,} events, {PACED_PAUSE * 1e3:g} ms pause after each, "
        "so that every event is recorded): CPU ns per event of all the target's threads, "
        "best of 5",
        "",
        "| loop | none | C hook | empty hook | python agent | native agent | python added "
        "| native added | drops (python, native) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| `{stmt}` | {cpu['none']:.0f} | {cell(cpu, 'count', '.0f')} | {cpu['empty']:.0f} "
        f"| {cpu['python']:.0f} "
        f"| {cpu['native']:.0f} | +{cpu['python'] - cpu['none']:.0f} "
        f"| +{cpu['native'] - cpu['none']:.0f} | {drops['python']:,}, {drops['native']:,} |",
    ]


def bench_programs(monitor, hooks, python, quick, walk_script, files) -> list[str]:
    lines = [
        "### Whole programs (median wall time of the target process, ms)",
        "",
        "| program | events | none | C hook | empty hook | python agent | native agent "
        "| python +% | native +% | native ns/event beyond start-up | drops (python, native) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    startup = 0.0  # the native agent's fixed cost, from `python -c pass`
    for label, args in PROGRAMS.items():
        if args == ["-c", "WALK"]:
            args = [str(walk_script), str(files)]
        runs = program_runs(label, quick)
        envs = {config: environment(config, monitor, hooks) for config in configs(hooks)}
        seconds = program_times(python, args, envs, runs)
        monitor.reset()
        # Drops per configuration: run each agent once more, alone.
        drops = {}
        for config in ("python", "native"):
            subprocess.run([python, *args], env=envs[config], check=True, stdout=subprocess.DEVNULL)
            counted, drops[config] = monitor.reset()
        raised = max(counted + drops["native"], 1)
        if label == "python -c pass":
            startup = seconds["native"] - seconds["none"]
        added = (seconds["native"] - seconds["none"] - startup) / raised * 1e9
        lines.append(
            f"| {label} | {raised:,} | {seconds['none'] * 1e3:.1f} "
            f"| {cell({c: t * 1e3 for c, t in seconds.items()}, 'count', '.1f')} "
            f"| {seconds['empty'] * 1e3:.1f} "
            f"| {seconds['python'] * 1e3:.1f} | {seconds['native'] * 1e3:.1f} "
            f"| {(seconds['python'] / seconds['none'] - 1) * 100:+.0f}% "
            f"| {(seconds['native'] / seconds['none'] - 1) * 100:+.0f}% | "
            f"{'-' if label == 'python -c pass' else f'{added:.0f}'} "
            f"| {drops['python']:,}, {drops['native']:,} |"
        )
    return lines + [""]


def program_runs(label: str, quick: bool) -> int:
    """Short programs get more runs: their differences are a millisecond or two."""
    if label in STARTUP:
        return 9 if quick else 31
    if label == "100 000 logging.info":
        return 1 if quick else 7
    return 3 if quick else 9


STARTUP = ("python -c pass", "import-heavy start-up")


STARTUP_RUNS = {"python -c pass": (301, 61), "import-heavy start-up": (61, 15)}  # full, quick


def bench_startup(monitor, hooks, pythons: dict[str, str], quick: bool) -> list[str]:
    """The start-up programs under two interpreters: wall time, many rounds, reported as
    the mean extra time over no hook in the same round (± its standard error), and
    instructions (callgrind, repeatable) where valgrind is installed."""
    lines = [
        "### Start-up under two interpreters",
        "",
        "Wall: median ms per run; the overheads are the mean of each round's extra time over "
        "no hook, ± its standard error. Instructions: millions, the whole process.",
        "",
        "| program | interpreter | rounds | wall none | C hook +% | empty hook +% | python +% "
        "| native +% | instr. none | instr. C hook | instr. empty | instr. python "
        "| instr. native | C hook +% | empty +% | python +% | native +% |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    present = configs(hooks)
    for label in STARTUP:
        runs = STARTUP_RUNS[label][1 if quick else 0]
        for name, python in pythons.items():
            envs = {config: environment(config, monitor, hooks) for config in present}
            times = program_runs_by_config(python, PROGRAMS[label], envs, runs)
            counts = {c: program_instructions(python, PROGRAMS[label], envs[c]) for c in present}
            monitor.reset()
            overheads = {c: paired_overhead(times, c) for c in present[1:]}
            row = [str(runs), f"{statistics.median(times['none']) * 1e3:.1f}"]
            row += [
                f"{overheads[c][0]:+.1f}% ± {overheads[c][1]:.1f}" if c in overheads else "-"
                for c in CONFIGS[1:]
            ]
            if counts["none"]:
                millions = {c: counts[c] / 1e6 for c in present}
                extra = {c: (counts[c] / counts["none"] - 1) * 100 for c in present}
                row += [cell(millions, c, ".1f") for c in CONFIGS]
                row += [cell(extra, c, "+.1f") + ("%" if c in extra else "") for c in CONFIGS[1:]]
            else:
                row += ["-"] * 9
            lines.append(f"| {label} | {name} | " + " | ".join(row) + " |")
    return lines + [""]
