"""Process trees: multiprocessing fork, spawn and forkserver, a pool, a 3-deep subprocess
chain: every process appears with the right ppid and all its events.

The workload (``workloads/tree.py``) has every process it creates write down its own pid,
ppid and label, so what auditmon recorded is checked against what the processes said.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict

import pytest
from helpers import WORKLOADS, agent_env, read_jsonl, run_recorded

pytestmark = pytest.mark.system

K = 50  # tree.py's K
BURST = 2000  # tree.py's BURST
TASKS = 20  # tree.py's TASKS
EXIT_STATUS = 3  # tree.py's EXIT_STATUS

FULL = [
    "main",
    "fork",
    "fork-fork",
    "spawn",
    "forkserver",
    "pool",
    "pool",
    "chain-2",
    "chain-1",
    "chain-0",
]
SMALL = ["main", "fork", "fork-fork", "spawn", "chain-2", "chain-1", "chain-0"]


def run_tree(tmp_path, python, size, agent="native"):
    out = tmp_path / "out"
    out.mkdir()
    record = tmp_path / "rec.jsonl"
    result = run_recorded(
        record,
        python,
        str(WORKLOADS / "tree.py"),
        str(out),
        size,
        env=agent_env(agent),
        timeout=60,
    )
    truth = [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]
    return truth, read_jsonl(record), result


def by_pid(records, kind):
    grouped = defaultdict(list)
    for record in records:
        if record["type"] == kind:
            grouped[record["pid"]].append(record)
    return grouped


@pytest.mark.parametrize("size", ["full", "small"])
def test_every_process_of_the_tree_is_recorded_with_its_parent_and_events(
    tmp_path, target_python, size
):
    check_tree(*run_tree(tmp_path, target_python, size), size)


RUNS = 20


def test_pool_workers_terminated_by_their_pool_keep_every_event_run_after_run(tmp_path, agent_kind):
    """``Pool.__exit__`` SIGTERMs its workers, which end without a goodbye: what they
    raised is all recorded (run mode's shared-memory ring), run after run."""
    for run in range(RUNS):
        where = tmp_path / str(run)
        where.mkdir()
        truth, records, result = run_tree(where, sys.executable, "managed", agent_kind)
        check_tree(truth, records, result, "managed")


def check_tree(truth, records, result, size):
    """Everything the tree's processes said about themselves is what was recorded."""
    assert result.returncode == EXIT_STATUS, result.stderr
    assert sorted(t["label"] for t in truth) == sorted(SMALL if size == "small" else FULL)
    assert all(t["k"] == K for t in truth)
    (root,) = [t for t in truth if t["label"] == "main"]
    labels = {t["pid"]: t["label"] for t in truth}
    assert len(labels) == len(truth), "two processes reported the same pid"

    processes = by_pid(records, "process")
    events = by_pid(records, "event")
    exits = by_pid(records, "exit")
    drops = by_pid(records, "dropped")

    # auditmon itself (the workload root's parent) never reports.
    assert root["ppid"] not in processes
    assert processes[root["pid"]][0]["ppid"] == root["ppid"]

    for t in truth:
        pid, label = t["pid"], t["label"]
        assert len(processes[pid]) == 1, (label, processes[pid])
        assert processes[pid][0]["ppid"] == t["ppid"], label
        first = records.index(processes[pid][0])
        assert all(records.index(e) > first for e in events[pid][:1]), label
        work = [e for e in sorted(events[pid], key=lambda e: e["seq"]) if e["event"] == "tree.work"]
        assert [e["args"] for e in work] == [[label, i] for i in range(K)], label
        assert pid not in drops, (label, drops[pid])
        assert len(exits[pid]) == 1, label
        if size == "managed" and label == "pool":  # ended, or SIGTERMed by the pool first
            end = exits[pid][0]
            assert end["status"] == "exited" or end["exit_code"] == -15, (label, end)
        else:
            assert exits[pid][0]["status"] == "exited", (label, exits[pid])
        seqs = [e["seq"] for e in events[pid]]
        assert len(seqs) == len(set(seqs)), f"{label}: duplicate sequence numbers"
    assert exits[root["pid"]][0]["exit_code"] == EXIT_STATUS

    # No process carries another's events: not the root's buffered ones in a forked
    # child, nor anything in the helper processes (resource tracker, forkserver).
    for pid, mine in events.items():
        assert pid in processes, f"events of pid {pid} without a process record"
        seen = Counter(e["event"] for e in mine if e["event"].startswith("tree."))
        work_labels = {e["args"][0] for e in mine if e["event"] == "tree.work"}
        if pid == root["pid"]:
            assert work_labels == {"main"}
            forks = 1 if size == "small" else 2  # the fork child, and the pool
            assert seen["tree.parent-before-fork"] == forks * BURST
        elif labels.get(pid) == "fork":  # it forked the grandchild
            assert work_labels == {"fork"}
            assert seen["tree.parent-before-fork"] == BURST
        else:
            assert work_labels <= {labels.get(pid)}, (pid, work_labels)
            assert "tree.parent-before-fork" not in seen, (pid, labels.get(pid), seen)
        if labels.get(pid) != "pool":
            assert "tree.task" not in seen, (pid, labels.get(pid))

    # The pool's tasks all ran, once each, in its workers.
    tasks = [e["args"] for mine in events.values() for e in mine if e["event"] == "tree.task"]
    assert sorted(tasks) == ([] if size == "small" else [[i] for i in range(TASKS)])

    # Every reporting process, helpers included, ended with an exit record.
    assert set(exits) == set(processes)
    assert not drops
    assert "; 0 dropped" in " ".join(result.stderr.split())  # the summary says so too
