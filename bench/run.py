"""auditmon's benchmark harness: every configuration side by side, in one run.

Usage:  .venv/bin/python bench/run.py [--quick] [--only agent|monitor] [--markdown FILE]

Agent cost. Each workload runs as a fresh process under five configurations:
  none         no audit hook
  C hook       a C audit hook that only counts (bench/count_hook.c, built here for the
               targets' interpreter; left out where it can't be): the floor under any
               audit hook, what CPython does for a hook at all
  empty        an empty Python hook (def hook(event, args): pass); both injected the way
               the agent is (sitecustomize on PYTHONPATH)
  python       auditmon's pure-Python agent  (AUDITMON_AGENT=python)
  native       auditmon's C fast path         (the default where it was built)
The agents stream to a real monitor, in a process of its own (bench/monitor_process.py):
it listens on a Unix socket and decodes and counts every event (auditmon's own ingest),
so the writer does its real work.
Tight loops time themselves in-process (best of 5), streaming to a listener that only
reads and discards (bench/drain_process.py): they raise events faster than any monitor
decodes them, and an agent whose buffer is full drops an event before encoding it, far
more cheaply than it records one; the agent reports its own drops at the end.  Whole
programs are timed from the
outside (spawned directly, waited for), the configurations taking turns run after run in
a random order (so a slow spell of the machine hits them all), and the median is kept.
"added ns/event" divides the extra time by the number of events the program raised.  The
start-up programs run again, for many more rounds, under the interpreter given (by
default this venv's, with its .pth files) and under a bare venv of the same interpreter
(nothing installed), where the agent's fixed cost weighs most; their overhead is the
mean of each round's extra time over no hook, with its standard error.
Where valgrind is installed, instructions are counted too (repeatable on a noisy
machine): per event on the tight loop, and for the whole start-up programs.
The tight loop runs once more paced, in chunks with a pause after each, so that no event
is dropped: what every recorded event costs all the target's threads in CPU time.

Monitor cost: events per second ingested by the headless recorder (JSON Lines and
msgpack), by the session model, by the live TUI (the real app under Textual's Pilot,
fed by a real target), and the monitor's memory after 10 million events.

It prints figures and asserts nothing; docs/benchmarks.md quotes a run.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
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

from auditmon import protocol  # noqa: E402
from auditmon.agentpath import agent_dir  # noqa: E402
from auditmon.ingest import Fanout, Ingest  # noqa: E402
from auditmon.model import Process, Session  # noqa: E402
from auditmon.record import Recorder  # noqa: E402
from tools.cext import compile_extension  # noqa: E402

CONFIGS = ("none", "count", "empty", "python", "native")
HOOKS = ("count", "empty")  # the configurations that are a sitecustomize of their own
COUNT_HOOK = Path(__file__).with_name("count_hook.c")

TIGHT = """
import sys, time
def body(n):
    for i in range(n):
        {stmt}
def agent_drops():
    native = sys.modules.get("_auditmon_native")
    agent = native.agent() if native is not None else None
    if agent is not None:
        return agent.dropped()
    core = sys.modules.get("_auditmon_agent.core")
    agent = core.AGENT if core is not None else None
    return agent.dropped() if agent is not None and agent.native is None else 0
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


class Listener:
    """A listening process the agents stream to, started from a script beside this one.
    (A thread here would share this process's GIL with the thread timing the targets,
    which would then wait for it as each target ends.)"""

    SCRIPT = ""

    def __init__(self, directory: Path) -> None:
        self.path = directory / (Path(self.SCRIPT).stem + ".sock")
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name(self.SCRIPT)), str(self.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the benchmark's {self.SCRIPT} did not start")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


class Drain(Listener):
    """Reads and discards (bench/drain_process.py): the tight loops' listener."""

    SCRIPT = "drain_process.py"


class Monitor(Listener):
    """A real monitor (bench/monitor_process.py): auditmon's ingest decoding and counting
    every event, as the headless monitor does, in a process of its own, as auditmon's
    monitor is."""

    SCRIPT = "monitor_process.py"

    def reset(self) -> tuple[int, int]:
        """Events and drops since the last reset (waits for connections to finish)."""
        self.process.stdin.write("reset\n")
        self.process.stdin.flush()
        events, dropped = self.process.stdout.readline().split()
        return int(events), int(dropped)


def environment(config: str, monitor: Listener, hooks: dict[str, Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITMON_")}
    env.pop("PYTHONPATH", None)
    if config in HOOKS:
        env["PYTHONPATH"] = str(hooks[config])
    elif config in ("python", "native"):
        env.update(
            PYTHONPATH=str(agent_dir()),
            AUDITMON_MODE="run",
            AUDITMON_SOCKET=str(monitor.path),
            AUDITMON_AGENT=config,
        )
    return env


def configs(hooks: dict[str, Path]) -> tuple[str, ...]:
    """This run's configurations: the C hook only where it could be built."""
    return tuple(c for c in CONFIGS if c not in HOOKS or c in hooks)


def cell(figures: dict, config: str, form: str) -> str:
    """A table cell: the configuration's figure, or "-" where the run has none."""
    return format(figures[config], form) if config in figures else "-"


def count_hook_dir(python: str, directory: Path) -> Path | None:
    """A sitecustomize that installs bench/count_hook.c, built for ``python``; None where
    it can't be (no C compiler, no headers for ``python``, a failed build)."""
    directory.mkdir()
    try:
        compile_extension(python, COUNT_HOOK, directory, "_count_hook")
    except (OSError, subprocess.CalledProcessError):
        return None
    (directory / "sitecustomize.py").write_text("import _count_hook\n")
    subprocess.run([python, "-m", "compileall", "-q", str(directory)], check=True)
    return directory


def printed(python: str, code: str, env: dict[str, str]) -> list[str]:
    """The words a program run with ``python -c`` printed last (its figures)."""
    out = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return out.stdout.split()


def tight_loop(python: str, stmt: str, n: int, env: dict[str, str]) -> tuple[float, int]:
    """ns per event, best of 5, and the events the agent dropped (it says so itself)."""
    best, dropped = printed(python, TIGHT.format(stmt=stmt, n=n), env)[-2:]
    return int(best) / n, int(dropped)


def paced_loop(python: str, stmt: str, chunks: int, env: dict[str, str]) -> float:
    code = PACED.format(stmt=stmt, chunks=chunks, size=PACED_CHUNK, pause=PACED_PAUSE)
    return int(printed(python, code, env)[-1]) / (chunks * PACED_CHUNK)


def run_once(python: str, args: list[str], env: dict[str, str]) -> float:
    """Wall time of one run of the target process: spawned directly (posix_spawn), so
    the figure holds as little of this harness as can be."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        started = time.perf_counter()
        pid = os.posix_spawn(
            python, [python, *args], env, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)]
        )
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - started
    finally:
        os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{python} {args} failed: {status}")
    return elapsed


def program_runs_by_config(
    python: str, args: list[str], envs: dict[str, dict], runs: int
) -> dict[str, list[float]]:
    """Wall times per configuration; the configurations take turns, run by run, in a
    fresh random order each round (so a slow spell of the machine hits them all)."""
    times: dict[str, list[float]] = {config: [] for config in envs}
    order = list(envs)
    for _ in range(runs):
        random.shuffle(order)
        for config in order:
            times[config].append(run_once(python, args, envs[config]))
    return times


def program_times(python: str, args: list[str], envs: dict[str, dict], runs: int) -> dict:
    """Median wall time per configuration."""
    times = program_runs_by_config(python, args, envs, runs)
    return {config: statistics.median(values) for config, values in times.items()}


def paired_overhead(times: dict[str, list[float]], config: str) -> tuple[float, float]:
    """The mean of ``config``'s extra time over ``none`` in the same round, as a
    percentage of the median ``none`` run, and its standard error."""
    base = statistics.median(times["none"])
    extra = [(a - b) / base * 100 for a, b in zip(times[config], times["none"])]
    return statistics.mean(extra), statistics.stdev(extra) / len(extra) ** 0.5


def program_instructions(python: str, args: list[str], env: dict[str, str]) -> int | None:
    """Instructions of one whole run under callgrind (None if valgrind is absent)."""
    if shutil.which("valgrind") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", python, *args],
            env={**env, "PYTHONHASHSEED": "0"},
            capture_output=True,
            check=True,
        )
        return callgrind_total(out)


def callgrind_total(out: Path) -> int:
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no total in {out}")


def bare_interpreter(python: str, directory: Path) -> str:
    """A venv of the same interpreter with nothing installed (no .pth files at start-up)."""
    base = subprocess.run(
        [python, "-c", "import sys; print(getattr(sys, '_base_executable', sys.executable))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run([base, "-m", "venv", "--without-pip", str(directory)], check=True)
    return str(directory / "bin" / "python")


def instructions(python: str, stmt: str, env: dict[str, str]) -> int | None:
    """Instructions of a tight loop of 20 000 events under callgrind (None if absent)."""
    counts = [
        program_instructions(python, ["-c", f"import sys\nfor i in range({n}):\n    {stmt}\n"], env)
        for n in (0, 20000)
    ]
    if None in counts:
        return None
    return (counts[1] - counts[0]) // 20000


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
        ):
            sink = make()
            ingest = Ingest(Fanout(sink), lambda message: None)
            path = Path(tmp) / f"{len(lines)}.sock"
            ingest.listen(path)

            def send(path=path):
                with socket.socket(socket.AF_UNIX) as client:
                    client.connect(str(path))
                    client.sendall(payload)

            started = time.perf_counter()
            threading.Thread(target=send, daemon=True).start()
            while not ingest.processes or ingest.open_connections:
                ingest.poll(0.05)
            elapsed = time.perf_counter() - started
            ingest.close()
            if isinstance(sink, Recorder):
                sink.close()
            lines.append(f"| {label} | {total / elapsed:,.0f} |")
    lines.append(f"| {TUI_ROW} | {tui_events_per_second(2.0 if quick else 4.0):,.0f} |")
    lines.append("")
    count = 1_000_000 if quick else 10_000_000
    measured = subprocess.run(
        [sys.executable, __file__, "--memory", str(count)],
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


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}; "
        f"CPython {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and events")
    parser.add_argument("--only", choices=("agent", "monitor"))
    parser.add_argument("--python", default=sys.executable, help="the targets' interpreter")
    parser.add_argument("--markdown", type=Path, help="also write the tables to FILE")
    parser.add_argument("--memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        print(memory_after(args.memory))
        return
    lines = [f"Machine: {machine()}. Targets: {args.python}.", ""]
    if args.only in (None, "agent"):
        lines += bench_agent(args.quick, args.python)
    if args.only in (None, "monitor"):
        lines += bench_monitor(args.quick)
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
