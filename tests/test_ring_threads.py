"""The threads of one process share its ring: under the pure-Python agent, whose hook
is Python code that the interpreter may suspend for another thread or interrupt with a
signal handler (at a call; before 3.11 at more places, on 3.8 and 3.9 between nearly
any two bytecodes), two events never land on each other, and none is lost or counted
twice.  (These fail on 7310c2a under 3.8, 3.9 and 3.10: corrupt rings.)

Real targets under ``auditmon run --headless --record``: every CPython 3.8-3.13 found,
this venv's interpreter (msgpack encodes there) and Debian's python3 (no msgpack); each
with the agent's C helper writing (``writer="C"``) and under a copy of the agent without
its compiled parts (the hook's write in Python).
"""

from __future__ import annotations

import pytest
from helpers import (
    agent_env,
    interpreter_or_skip,
    read_jsonl,
    run_recorded,
    without_compiled_parts,
)

pytestmark = pytest.mark.system

THREADS, EACH = 4, 5000

# Threads raising events as the interpreter switches between them as often as it can;
# with "signals", a timer whose handler raises an event of its own, in the middle of
# whatever the main thread does.  The last event comes once the ring has been read.
WORK = """
import itertools, signal, sys, threading, time
threads, each, how = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sys.setswitchinterval(1e-6)
fired = itertools.count(1)  # a handler may run in the middle of another
def tick(signum, frame):
    sys.audit("ring.signal", next(fired))
if how == "signals":
    signal.signal(signal.SIGALRM, tick)
    signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
def work(k):
    for i in range(each):
        sys.audit("ring.work", k, i)
workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
for w in workers:
    w.start()
work(threads)
for w in workers:
    w.join()
signal.setitimer(signal.ITIMER_REAL, 0)
time.sleep(0.3)
sys.audit("ring.done", next(fired) - 1)
hook = sys.modules["_auditmon_agent.core"].AGENT.python_hook
print("writer:", type(hook.names["_write_event"]).__name__, file=sys.stderr)
"""

INTERPRETERS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "venv", "debian"]


@pytest.fixture(params=["C", "python"])
def writer(request) -> str:
    return request.param


def run_work(tmp_path, python, how, writer, **env):
    script = tmp_path / "work.py"
    script.write_text(WORK)
    recording = tmp_path / "rec.jsonl"
    command = (python,) if writer == "C" else without_compiled_parts(tmp_path, python)
    result = run_recorded(
        recording,
        *command,
        str(script),
        str(THREADS - 1),
        str(EACH),
        how,
        env=agent_env("python", **env),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "corrupt" not in result.stderr, result.stderr
    kind = "builtin_function_or_method" if writer == "C" else "NoneType"
    assert f"writer: {kind}" in result.stderr, result.stderr
    return read_jsonl(recording)


def exact(records):
    """The work process's events: unique seqs, and together with its drops every event
    it numbered up to its last (which came once the ring was read); its ring.done.  The
    interpreter's teardown raises its last event after it."""
    (pid,) = {r["pid"] for r in records if r.get("event") == "ring.done"}
    events = [r for r in records if r["type"] == "event" and r["pid"] == pid]
    dropped = sum(r["count"] for r in records if r["type"] == "dropped" and r["pid"] == pid)
    (done,) = [e for e in events if e["event"] == "ring.done"]
    seqs = [e["seq"] for e in events]
    assert len(seqs) == len(set(seqs)), "an event recorded twice"
    after = [e["event"] for e in events if e["seq"] > done["seq"]]
    assert after == ["cpython.PyInterpreterState_Clear"], after
    assert max(seqs) == done["seq"] + 1
    assert len(seqs) - 1 + dropped == done["seq"], (len(seqs), dropped, done["seq"])
    (exit_record,) = [r for r in records if r["type"] == "exit" and r["pid"] == pid]
    assert exit_record["status"] == "exited"
    return events, dropped, done


@pytest.mark.parametrize("how", ["threads", "signals"])
@pytest.mark.parametrize("which", INTERPRETERS)
def test_threads_and_signal_handlers_share_the_ring(tmp_path, which, how, writer):
    records = run_work(tmp_path, interpreter_or_skip(which), how, writer)
    events, dropped, done = exact(records)
    assert dropped == 0
    work = sorted(tuple(e["args"]) for e in events if e["event"] == "ring.work")
    assert work == [(k, i) for k in range(THREADS) for i in range(EACH)]
    signals = sorted(e["args"][0] for e in events if e["event"] == "ring.signal")
    assert signals == list(range(1, done["args"][0] + 1))
    if how == "signals":
        assert signals, "the timer never fired"


@pytest.mark.parametrize("which", ["3.8", "3.10", "venv", "debian"])
def test_threads_through_a_small_ring(tmp_path, which, writer):
    """An 8 KiB ring: events wrap past its end, fill it and are dropped all the time, on
    the hook's slower way through the ring; every event is recorded once or counted."""
    records = run_work(tmp_path, interpreter_or_skip(which), "threads", writer, AUDITMON_QUEUE="64")
    events, dropped, done = exact(records)
    assert dropped > 0  # the ring filled: its drop path ran too
    work = [tuple(e["args"]) for e in events if e["event"] == "ring.work"]
    assert len(work) == len(set(work))
    assert all(0 <= k < THREADS and 0 <= i < EACH for k, i in work)
