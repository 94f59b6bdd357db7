"""What an attachable process pays while no monitor is attached: before any attach
(``auditmon env``'s settings) and after a detach, as after ``auditmon attach`` brought
the agent into a process (an audit hook can't be removed, so the agent stays).

Usage:  .venv/bin/python bench/attach_cost.py [--rounds N]

The tight and paced ``sys.audit`` loops of agent_cost.py under: no hook; each agent in
attach mode with no monitor (it keeps its ring of recent events); each agent in run mode
streaming to a listener that only reads, for comparison.  Configurations take turns in a
fresh random order each round; medians of the rounds, ns per event (paced: CPU of all the
process's threads).  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

from agent_cost import paced_loop, tight_loop
from harness import Drain, agent_dir, machine

STMT = "sys.audit('bench.x', i, 'abc')"


def environment(config: str, drain: Drain, runtime: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITMON_")}
    env.pop("PYTHONPATH", None)
    if config == "none":
        return env
    kind, mode = config.split()
    env.update(PYTHONPATH=str(agent_dir()), AUDITMON_AGENT=kind, AUDITMON_MODE=mode)
    if mode == "attach":
        env["AUDITMON_RUNTIME_DIR"] = str(runtime)
    else:
        env["AUDITMON_SOCKET"] = str(drain.path)
    return env


CONFIGS = ("none", "native attach", "python attach", "native run", "python run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    tight: dict[str, list[float]] = {c: [] for c in CONFIGS}
    paced: dict[str, list[float]] = {c: [] for c in CONFIGS}
    drops: dict[str, int] = dict.fromkeys(CONFIGS, 0)
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Path(tmp) / "runtime"
        runtime.mkdir(mode=0o700)
        drain = Drain(Path(tmp))
        try:
            order = list(CONFIGS)
            for _ in range(args.rounds):
                random.shuffle(order)
                for config in order:
                    env = environment(config, drain, runtime)
                    ns, dropped = tight_loop(sys.executable, STMT, args.events, env)
                    tight[config].append(ns)
                    drops[config] += dropped
                    paced[config].append(paced_loop(sys.executable, STMT, 10, env))
        finally:
            drain.close()
    none_t, none_p = statistics.median(tight["none"]), statistics.median(paced["none"])
    lines = [
        f"Machine: {machine()}.",
        "",
        f"`{STMT}`, median of {args.rounds} rounds, ns per event (added over no hook)",
        "",
        "| configuration | tight | paced (CPU, all threads) | drops (tight) |",
        "|---|---:|---:|---:|",
    ]
    for config in CONFIGS:
        t, p = statistics.median(tight[config]), statistics.median(paced[config])
        lines.append(
            f"| {config} | {t:.0f} (+{t - none_t:.0f}) | {p:.0f} (+{p - none_p:.0f}) "
            f"| {drops[config]:,} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
