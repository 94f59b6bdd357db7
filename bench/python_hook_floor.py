"""What a pure-Python audit hook costs, step by step: the floor under the Python agent.

Usage: .venv/bin/python bench/python_hook_floor.py [--python PY] [--quick]

The loop ``sys.audit('bench.x', i, 'abc')`` runs under a ladder of hooks, each in a
fresh process (an audit hook can't be removed), each step doing one thing more than the
one above, up to what any recorder must keep of an event: its time, thread, name and
arguments, in a queue another thread empties. Then the agent's own hook
(``_auditmon_agent.python_hook``'s, set up as ``Agent.start`` leaves it, without the
writer thread), and the same again with run mode's writer's encoding (``take(False)``,
msgpack's where it is importable) done after each chunk. The loop runs in chunks of
5000 events; after each, the queue is emptied (its events freed) as the writer would
empty it. CPU ns per event, best of 5; "added" is over no hook, "step" over the row
above. What the table leaves out is sending (a few ns per event in batches) and the
writer's thread switches.

Prints figures; asserts nothing.  docs/benchmarks.md quotes a run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditmon.agentpath import agent_dir  # noqa: E402

STEPS = {
    "none": "no hook",
    "empty": "an empty Python hook",
    "append": "+ append (name, args) to a deque",
    "time": "+ the time (time.time())",
    "thread": "+ the thread (_thread.get_ident())",
    "decision": "+ skip quiet threads, look up the event's cached decision",
    "numbering": "+ number the event, bound the queue",
    "agent": "the agent's hook (+ keep plain arguments as they are, else summarise)",
    "encoded": "the agent's hook + its writer's encoding",
}

TARGET = """
import sys, time, _thread, itertools
from collections import deque
step, chunks = sys.argv[1], int(sys.argv[2])
_queue = deque()
_append = _queue.append
_time = time.time
_get_ident = _thread.get_ident
_quiet = set()
_decisions = {{"bench.x": 1}}
RECORD = 1
_next_seq = itertools.count(1).__next__
_cap = 65536
drain = _queue.clear

def empty(event, args):
    pass

def append(event, args):
    _append((event, args))

def with_time(event, args):
    _append((_time(), event, args))

def with_thread(event, args):
    _append((_time(), _get_ident(), event, args))

def decision(event, args):
    tid = _get_ident()
    if tid in _quiet:
        return
    if _decisions[event] == RECORD:
        _append((_time(), tid, event, args))

def numbering(event, args):
    tid = _get_ident()
    if tid in _quiet:
        return
    if _decisions[event] == RECORD:
        seq = _next_seq()
        if len(_queue) >= _cap:
            return
        _append((seq, _time(), tid, event, args))

hooks = {{"empty": empty, "append": append, "time": with_time, "thread": with_thread,
         "decision": decision, "numbering": numbering}}
if step in ("agent", "encoded"):
    sys.path.insert(0, {agent!r})
    from _auditmon_agent import core
    from _auditmon_agent.config import Config
    agent = core.AGENT
    agent.settle(Config(), time.time())  # what Agent.start does, but the writer and install
    python_hook = agent.use_python_hook()
    agent.decide("bench.x")
    agent.python_pack()  # the encoder, loaded before the clock starts
    hooks[step] = python_hook.hook
    drain = (lambda: agent.take(False)) if step == "encoded" else python_hook.queue.clear
if step != "none":
    sys.addaudithook(hooks[step])

def chunk():
    for i in range(5000):
        sys.audit("bench.x", i, "abc")
    drain()

chunk()
best = None
for _ in range(5):
    t = time.process_time_ns()
    for _ in range(chunks):
        chunk()
    cpu = time.process_time_ns() - t
    best = cpu if best is None or cpu < best else best
print(best / (chunks * 5000))
"""


def cost(python: str, step: str, chunks: int) -> float:
    """CPU ns per event of the loop under one step's hook, best of 5."""
    script = TARGET.format(agent=str(agent_dir()))
    out = subprocess.run(
        [python, "-c", script, step, str(chunks)], capture_output=True, text=True, check=True
    ).stdout
    return float(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the targets' interpreter")
    parser.add_argument("--quick", action="store_true", help="fewer chunks, fewer rounds")
    args = parser.parse_args()
    chunks, rounds = (20, 1) if args.quick else (60, 3)
    # Each step's best over the rounds, the steps taking turns within a round (so that a
    # slow spell of the machine hits them all).
    ns: dict[str, float] = {}
    for _ in range(rounds):
        for step in STEPS:
            ns[step] = min(ns.get(step, float("inf")), cost(args.python, step, chunks))
    print(f"Targets: {args.python}. CPU ns per event, best of 5 x {rounds} round(s).")
    print()
    print("| step | ns/event | added | step |")
    print("|---|---:|---:|---:|")
    previous = None
    for step, label in STEPS.items():
        added = ns[step] - ns["none"]
        delta = "" if previous is None else f"{ns[step] - ns[previous]:+.0f}"
        print(f"| {label} | {ns[step]:.0f} | {added:+.0f} | {delta} |")
        previous = step


if __name__ == "__main__":
    main()
