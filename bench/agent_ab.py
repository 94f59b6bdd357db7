"""One agent against another, side by side: what a change to the agent costs per event.

Usage:  .venv/bin/python bench/agent_ab.py BASELINE_AGENT_DIR [--rounds N] [--events N]

BASELINE_AGENT_DIR is another checkout's ``agent/`` directory with its extension built
in it, for example::

    git archive <commit> agent | tar -x -C /tmp/base
    python -c "from tools.cext import compile_extension as c; from pathlib import Path as P; \\
        import sys; c(sys.executable, P('/tmp/base/agent/native/module.c'), \\
        P('/tmp/base/agent'), '_auditmon_native', ['-DAUDITMON_SOURCE_SHA256=\\"x\\"'])"

Both agents (native and pure-Python) run the tight ``sys.audit`` loop of
``agent_cost.py`` streaming to a listener that only reads, round after round in a fresh
random order; the table gives each one's median ns per event, the ratio this checkout /
baseline, and the drops (none expected). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

from agent_cost import tight_loop
from harness import Drain, agent_dir, machine


def environment(directory: Path, kind: str, drain: Drain) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITMON_")}
    env.update(
        PYTHONPATH=str(directory),
        AUDITMON_MODE="run",
        AUDITMON_SOCKET=str(drain.path),
        AUDITMON_AGENT=kind,
    )
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path, help="the other checkout's agent/ directory")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    agents = {"this checkout": agent_dir(), "baseline": args.baseline.resolve()}
    stmt = "sys.audit('bench.x', i, 'abc')"
    lines = [
        f"Machine: {machine()}. Baseline: {agents['baseline']}.",
        "",
        f"Tight `{stmt}` loop, {args.events:,} events, median of {args.rounds} rounds "
        "(each the best of 5 in one process), ns per event",
        "",
        "| agent | baseline | this checkout | ratio | drops (baseline, this) |",
        "|---|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        drain = Drain(Path(tmp))
        try:
            for kind in ("native", "python"):
                ns: dict[str, list[float]] = {name: [] for name in agents}
                drops: dict[str, int] = dict.fromkeys(agents, 0)
                order = list(agents)
                for _ in range(args.rounds):
                    random.shuffle(order)
                    for name in order:
                        env = environment(agents[name], kind, drain)
                        per_event, dropped = tight_loop(sys.executable, stmt, args.events, env)
                        ns[name].append(per_event)
                        drops[name] += dropped
                base = statistics.median(ns["baseline"])
                this = statistics.median(ns["this checkout"])
                lines.append(
                    f"| {kind} | {base:.0f} | {this:.0f} | {this / base:.3f} "
                    f"| {drops['baseline']:,}, {drops['this checkout']:,} |"
                )
        finally:
            drain.close()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
