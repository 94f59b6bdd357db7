"""What the preload library costs a program that is not Python, and a Python start-up.

Usage: python bench/preload_exec.py [--rounds N] [--execs N] [--python PYTHON]

Three configurations, side by side in one run, taking turns in a fresh random order each
round (so a slow spell of the machine hits them all):

  none      no agent at all
  pythonpath  today's agent without the library: PYTHONPATH and the AUDITMON_* settings
  preload   the same and the preload library in LD_PRELOAD (what ``auditmon run`` does)

Two workloads: a shell that execs ``/bin/true`` ``--execs`` times (every exec loads the
library, which looks for CPython and returns), and ``python -c pass`` (the agent starts;
with the library, from the bootstrap hook's kept events).  The agents send to a listener
that reads and discards (bench/drain_process.py), so no monitor's speed is measured.
Prints the median wall time of each and its ratio to ``none``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from auditmon.agentpath import agent_dir
from auditmon.sources.environment import preload_library

CONFIGS = ("none", "pythonpath", "preload")


def environment(config: str, socket_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITMON_")}
    for name in ("PYTHONPATH", "LD_PRELOAD"):
        env.pop(name, None)
    if config != "none":
        env.update(PYTHONPATH=str(agent_dir()), AUDITMON_MODE="run")
        env["AUDITMON_SOCKET"] = str(socket_path)
    if config == "preload":
        library = preload_library()
        if library is None:
            raise SystemExit("the preload library is not built: pip install -e .")
        env["LD_PRELOAD"] = str(library)
    return env


def wall_time(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--execs", type=int, default=1000)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    loop = f"i=0; while [ $i -lt {args.execs} ]; do /bin/true; i=$((i+1)); done"
    workloads = {
        f"/bin/true x{args.execs} (from sh)": ["/bin/sh", "-c", loop],
        "python -c pass": [args.python, "-c", "pass"],
    }
    # Compiled first: under PYTHONDONTWRITEBYTECODE an agent without cached bytecode
    # would be compiled at every start (an installed wheel ships it compiled).
    subprocess.run([args.python, "-m", "compileall", "-q", str(agent_dir())], check=True)
    with tempfile.TemporaryDirectory() as directory:
        socket_path = Path(directory) / "drain.sock"
        drain = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("drain_process.py")), str(socket_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            if drain.stdout.readline().strip() != "ready":
                raise SystemExit("bench/drain_process.py did not start")
            envs = {config: environment(config, socket_path) for config in CONFIGS}
            print(f"# {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {args.python}")
            print(f"# median of {args.rounds} rounds; ratio to none")
            print("| workload | none | pythonpath | preload |")
            print("|---|---|---|---|")
            for label, argv in workloads.items():
                times: dict[str, list[float]] = {c: [] for c in CONFIGS}
                order = list(CONFIGS)
                for config in order:  # warm the caches (bytecode, page cache) first
                    wall_time(argv, envs[config])
                for _ in range(args.rounds):
                    random.shuffle(order)
                    for config in order:
                        times[config].append(wall_time(argv, envs[config]))
                medians = {c: statistics.median(v) for c, v in times.items()}
                cells = [
                    f"{medians[c] * 1e3:.1f} ms ({medians[c] / medians['none']:.2f}x)"
                    for c in CONFIGS
                ]
                print(f"| {label} | " + " | ".join(cells) + " |")
        finally:
            drain.stdin.close()
            drain.wait(timeout=60)


if __name__ == "__main__":
    main()
