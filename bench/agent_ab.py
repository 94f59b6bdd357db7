"""One agent against another, side by side: what a change to the agent costs per event.

Usage:  .venv/bin/python bench/agent_ab.py BASELINE_AGENT_DIR [--rounds N] [--events N]
            [--python PYTHON] [--agents native,python] [--startup-runs N (0: none)]
            [--preload] [--agent AGENT_DIR]

BASELINE_AGENT_DIR is another checkout's ``agent/`` directory with its extension built
in it, for example::

    git archive <commit> agent | tar -x -C /tmp/base
    python -c "from tools.cext import compile_extension as c; from pathlib import Path as P; \\
        import sys; c(sys.executable, P('/tmp/base/agent/native/module.c'), \\
        P('/tmp/base/agent'), '_auditmon_native', ['-DAUDITMON_SOURCE_SHA256=\\"x\\"'])"

With ``--preload`` the targets have the preload library in ``LD_PRELOAD``, as under
``auditmon run`` (built in both directories; for a baseline checkout, for example
``gcc -shared -fPIC -fvisibility=hidden -O2 agent/preload/preload.c -o
agent/auditmon-preload.so -ldl``).

Both agents (native and pure-Python) run the tight and paced ``sys.audit`` loops of
``agent_cost.py`` streaming to a listener that only reads, round after round in a fresh
random order; the table gives each one's median ns per event, the ratio this checkout /
baseline, and the tight loop's drops (a dropped event costs less than a recorded one:
where there are drops, the paced figure is the one to read), and instructions per
event of 20 000 events under callgrind (every thread's, repeatable where times are
not).  A second table compares start-up (``python -c pass``), both agents' bytecode
compiled first.  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from agent_cost import paced_loop, tight_loop
from harness import (
    Drain,
    agent_dir,
    instructions,
    machine,
    program_instructions,
    program_runs_by_config,
)


def environment(directory: Path, kind: str, drain: Drain, preload: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITMON_")}
    env.update(
        PYTHONPATH=str(directory),
        AUDITMON_MODE="run",
        AUDITMON_SOCKET=str(drain.path),
        AUDITMON_AGENT=kind,
    )
    library = directory / "auditmon-preload.so"
    if preload:  # as auditmon run has it
        if not library.is_file():
            raise SystemExit(f"--preload: {library} was not built")
        env["LD_PRELOAD"] = str(library)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path, help="the other checkout's agent/ directory")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--python", default=sys.executable, help="the targets' interpreter")
    parser.add_argument("--startup-runs", type=int, default=101, help="0: no start-up table")
    parser.add_argument("--agents", default="native,python", help="which agents, comma-separated")
    parser.add_argument(
        "--preload",
        action="store_true",
        help="the preload library in LD_PRELOAD, as auditmon run has it (built in both dirs)",
    )
    parser.add_argument(
        "--agent",
        type=Path,
        default=agent_dir(),
        help="the agent/ directory to measure against the baseline (default: this checkout's)",
    )
    args = parser.parse_args()
    agents = {"this checkout": args.agent.resolve(), "baseline": args.baseline.resolve()}
    # Both agents compiled for the targets' interpreter: under PYTHONDONTWRITEBYTECODE
    # an agent without cached bytecode would pay its compilation at every start-up.
    for directory in agents.values():
        subprocess.run([args.python, "-m", "compileall", "-q", str(directory)], check=True)
    stmt = "sys.audit('bench.x', i, 'abc')"
    lines = [
        f"Machine: {machine()}. Targets: {args.python}. Baseline: {agents['baseline']}.",
        "",
        f"`{stmt}`, median of {args.rounds} rounds, ns per event: tight ({args.events:,} "
        "events, best of 5 in one process) and paced (CPU of all the process's threads, "
        "nothing dropped)",
        "",
        "| agent | loop | baseline | this checkout | ratio | drops (baseline, this) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        drain = Drain(Path(tmp))
        try:
            for kind in args.agents.split(","):
                ns = {(loop, n): [] for loop in ("tight", "paced") for n in agents}
                drops: dict[str, int] = dict.fromkeys(agents, 0)
                order = list(agents)
                for _ in range(args.rounds):
                    random.shuffle(order)
                    for name in order:
                        env = environment(agents[name], kind, drain, args.preload)
                        per_event, dropped = tight_loop(args.python, stmt, args.events, env)
                        ns[("tight", name)].append(per_event)
                        drops[name] += dropped
                        ns[("paced", name)].append(paced_loop(args.python, stmt, 10, env))
                for loop in ("tight", "paced"):
                    base = statistics.median(ns[(loop, "baseline")])
                    this = statistics.median(ns[(loop, "this checkout")])
                    dropped = (
                        f"{drops['baseline']:,}, {drops['this checkout']:,}"
                        if loop == "tight"
                        else "-"
                    )
                    lines.append(
                        f"| {kind} | {loop} | {base:.0f} | {this:.0f} | {this / base:.3f} "
                        f"| {dropped} |"
                    )
                counts = [
                    instructions(
                        args.python, stmt, environment(agents[name], kind, drain, args.preload)
                    )
                    for name in ("baseline", "this checkout")
                ]
                if counts[0] and counts[1]:
                    lines.append(
                        f"| {kind} | instructions | {counts[0]:,} | {counts[1]:,} "
                        f"| {counts[1] / counts[0]:.3f} | - |"
                    )
            if args.startup_runs:
                lines += startup_rows(args, agents, drain)
        finally:
            drain.close()
    print("\n".join(lines))


def startup_rows(args: argparse.Namespace, agents: dict[str, Path], drain: Drain) -> list[str]:
    """``python -c pass`` under each agent of both checkouts: wall time, the
    configurations taking turns run by run, and instructions (callgrind, repeatable)
    where valgrind is installed."""
    none = environment(agents["baseline"], "none", drain)
    envs = {
        "none": {k: v for k, v in none.items() if not k.startswith(("AUDITMON_", "PYTHONPATH"))}
    }
    for kind in ("native", "python"):
        for name, directory in agents.items():
            envs[f"{kind}, {name}"] = environment(directory, kind, drain, args.preload)
    times = program_runs_by_config(args.python, ["-c", "pass"], envs, args.startup_runs)
    lines = [
        "",
        f"`python -c pass`, {args.startup_runs} runs each, taking turns: median wall ms, "
        "and instructions (millions, callgrind)",
        "",
        "| agent | wall baseline | wall this | ratio | instr. baseline | instr. this | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| none | {statistics.median(times['none']) * 1e3:.2f} | | | | | |",
    ]
    for kind in ("native", "python"):
        wall = [statistics.median(times[f"{kind}, {name}"]) * 1e3 for name in agents]
        counts = [
            program_instructions(args.python, ["-c", "pass"], envs[f"{kind}, {name}"])
            for name in ("baseline", "this checkout")
        ]
        wall_base, wall_this = wall[1], wall[0]
        row = f"| {kind} | {wall_base:.2f} | {wall_this:.2f} | {wall_this / wall_base:.3f} |"
        if counts[0] and counts[1]:
            row += f" {counts[0] / 1e6:.1f} | {counts[1] / 1e6:.1f} | {counts[1] / counts[0]:.3f} |"
        else:
            row += " - | - | - |"
        lines.append(row)
    return lines


if __name__ == "__main__":
    main()
