"""What an attachable process pays while no monitor is attached: before any attach
(``auditmon env``'s settings) and after a detach from a process ``auditmon attach``
brought the agent into (an audit hook can't be removed, so the agent stays, paused).

Usage:  .venv/bin/python bench/attach_cost.py [--rounds N]

The tight and paced ``sys.audit`` loops of agent_cost.py under: no hook; each agent in
attach mode with no monitor (it keeps its ring of recent events); each agent injected
into a process started without auditmon, attached to for 0.2 s and detached from (gdb,
a real ``auditmon attach``), the loop starting once the agent says it has paused; each
agent in run mode streaming to a listener that only reads, for comparison.  Attach mode
and injected agents twice: listening, and lone (AUDITMON_LONE=1, as ``auditmon env``
gives: where the descriptor limit can't be raised, no listener; the monitor calls).
Configurations take turns in a fresh random order each round; medians of the rounds, ns
per event (paced: CPU of all the process's threads).  Prints figures; asserts nothing.
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

from agent_cost import PACED, PACED_CHUNK, PACED_PAUSE, TIGHT, paced_loop, tight_loop
from harness import Drain, agent_dir, machine

STMT = "sys.audit('bench.x', i, 'abc')"


def environment(config: str, drain: Drain | None, runtime: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITMON_")}
    env.pop("PYTHONPATH", None)
    if config == "none":
        return env
    kind, mode = config.split(",")[0].split()
    env.update(PYTHONPATH=str(agent_dir()), AUDITMON_AGENT=kind, AUDITMON_MODE=mode)
    if mode == "attach":
        env["AUDITMON_RUNTIME_DIR"] = str(runtime)
        env["AUDITMON_LONE"] = lone(config)
    else:
        assert drain is not None
        env["AUDITMON_SOCKET"] = str(drain.path)
    return env


CONFIGS = (
    "none",
    "native attach, listening",
    "native attach, lone",
    "python attach, listening",
    "python attach, lone",
    "native injected, detached, listening",
    "native injected, detached, lone",
    "python injected, detached, listening",
    "python injected, detached, lone",
    "native run",
    "python run",
)


def lone(config: str) -> str:
    """AUDITMON_LONE for ``config``: "1" (what ``auditmon env`` and injection give: no
    listener where it would be in the target's sight, the monitor calls) or "0" (a
    listener whatever the limits)."""
    return "1" if config.endswith("lone") else "0"


WAIT_FOR_GO = """
import os, sys, time
print("ready", flush=True)
while not os.path.exists({go!r}):
    time.sleep(0.01)
"""


def injected_run(code: str, kind: str, door: str, runtime: Path) -> list[str]:
    """``code`` run in a process started without auditmon, once ``auditmon attach``
    has brought the agent in, recorded for 0.2 s and gone: the words it printed last."""
    from auditmon.sources.attach import status

    go = runtime.parent / "go"
    go.unlink(missing_ok=True)
    plain = environment("none", None, runtime)
    target = subprocess.Popen(
        [sys.executable, "-c", WAIT_FOR_GO.format(go=str(go)) + code],
        env=plain,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert target.stdout is not None and target.stdout.readline() == "ready\n"
        attach_env = dict(
            plain, AUDITMON_RUNTIME_DIR=str(runtime), AUDITMON_AGENT=kind, AUDITMON_LONE=door
        )
        subprocess.run(
            [sys.executable, "-m", "auditmon", "attach", "--headless", "--duration", "0.2"]
            + [str(target.pid)],
            env=attach_env,
            check=True,
            capture_output=True,
        )
        os.environ["AUDITMON_RUNTIME_DIR"] = str(runtime)
        deadline = time.monotonic() + 10
        while not status(target.pid).get("paused"):
            if time.monotonic() > deadline:
                raise RuntimeError("the injected agent did not pause")
            time.sleep(0.01)
        go.touch()
        out = target.communicate(timeout=300)[0]
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
    return out.split()


def measure(config: str, drain: Drain, runtime: Path, events: int) -> tuple[float, int, float]:
    """Tight ns per event, its drops, and paced ns per event, under ``config``."""
    if "injected" not in config:
        env = environment(config, drain, runtime)
        ns, dropped = tight_loop(sys.executable, STMT, events, env)
        return ns, dropped, paced_loop(sys.executable, STMT, 10, env)
    kind, door = config.split()[0], lone(config)
    best, dropped = injected_run(TIGHT.format(stmt=STMT, n=events), kind, door, runtime)[-2:]
    paced_code = PACED.format(stmt=STMT, chunks=10, size=PACED_CHUNK, pause=PACED_PAUSE)
    paced = int(injected_run(paced_code, kind, door, runtime)[-1]) / (10 * PACED_CHUNK)
    return int(best) / events, int(dropped), paced


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
                    ns, dropped, paced_ns = measure(config, drain, runtime, args.events)
                    tight[config].append(ns)
                    drops[config] += dropped
                    paced[config].append(paced_ns)
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
