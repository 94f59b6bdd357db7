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
import sys
from pathlib import Path

from agent_cost import bench_agent
from harness import machine
from monitor_cost import bench_monitor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and events")
    parser.add_argument("--only", choices=("agent", "monitor"))
    parser.add_argument("--python", default=sys.executable, help="the targets' interpreter")
    parser.add_argument("--markdown", type=Path, help="also write the tables to FILE")
    args = parser.parse_args()
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
