"""A workload that builds a process tree whose every member reports its own truth.

Usage:
    tree.py OUTDIR [full|managed|small]    the root (``full`` by default)
    tree.py chain DEPTH OUTDIR     one link of the subprocess chain (internal)

The root raises its own ``tree.work`` events, then creates, one after the other:

* ``full``: a child with each start method (fork, spawn, forkserver; the fork child
  forks a grandchild of its own), a fork-context ``Pool(2)`` (each worker raises its
  events in the pool initializer, so which worker runs which task does not matter) and
  a 3-deep subprocess chain (depth 2 runs depth 1, which runs depth 0);
* ``managed``: as ``full``, the pool used as a context manager, whose ``__exit__``
  terminates the workers (SIGTERM: they end without the agent's goodbye);
* ``small``: the fork child (and grandchild), the spawn child and the chain.

Every process it creates (and the root) raises ``sys.audit("tree.work", label, i)`` for
i in range(K) and writes ``OUTDIR/<pid>.json`` with its pid, ``os.getppid()``, label and
K: the truth, known without auditmon.  Right before each fork the forking process raises
``tree.parent-before-fork`` BURST times, so events of its own sit in the agent's queue
when the child is forked.  The pool's tasks raise ``tree.task`` (i,).  The root exits
with EXIT_STATUS once every child has exited 0.  Python 3.8 syntax; no timing
dependence: everything is joined before the next step.
"""

import json
import multiprocessing
import os
import subprocess
import sys
import time

K = 50
BURST = 2000
TASKS = 20
EXIT_STATUS = 3


def work(out, label):
    for i in range(K):
        sys.audit("tree.work", label, i)
    truth = {"pid": os.getpid(), "ppid": os.getppid(), "label": label, "k": K}
    with open(os.path.join(out, "%d.json" % os.getpid()), "w") as file:
        json.dump(truth, file)


def labelled(out, label):
    """The truths written so far under ``label``."""
    found = []
    for name in os.listdir(out):
        with open(os.path.join(out, name)) as file:
            try:
                if json.load(file)["label"] == label:
                    found.append(name)
            except ValueError:  # still being written
                pass
    return found


def before_fork(what):
    for i in range(BURST):
        sys.audit("tree.parent-before-fork", what, i)


def task(i):
    sys.audit("tree.task", i)
    return i * i


def child(out, label):
    work(out, label)
    if label == "fork":  # a forked child forks in turn
        run_child("fork", out, "fork-fork")


def run_child(method, out, label=None):
    context = multiprocessing.get_context(method)
    process = context.Process(target=child, args=(out, label or method))
    if method == "fork":
        before_fork(method)
    process.start()
    process.join()
    if process.exitcode != 0:
        raise SystemExit("%s child exited %r" % (method, process.exitcode))


def run_pool(out, managed=False):
    context = multiprocessing.get_context("fork")
    before_fork("pool")
    if managed:  # Pool.__exit__ terminates the workers: SIGTERM, no goodbye
        with context.Pool(2, initializer=work, initargs=(out, "pool")) as pool:
            results = pool.map(task, range(TASKS), chunksize=1)
            while len(labelled(out, "pool")) < 2:  # one worker may not have started yet
                time.sleep(0.01)
    else:
        pool = context.Pool(2, initializer=work, initargs=(out, "pool"))
        try:
            results = pool.map(task, range(TASKS), chunksize=1)
        finally:
            pool.close()  # workers finish normally (terminate() would SIGTERM them)
            pool.join()
    if results != [i * i for i in range(TASKS)]:
        raise SystemExit("pool returned %r" % (results,))


def run_chain(depth, out):
    subprocess.run(
        [sys.executable, os.path.abspath(__file__), "chain", str(depth), out], check=True
    )


def main(argv):
    if argv[0] == "chain":
        depth, out = int(argv[1]), argv[2]
        work(out, "chain-%d" % depth)
        if depth > 0:
            run_chain(depth - 1, out)
        return 0
    out = argv[0]
    size = argv[1] if len(argv) > 1 else "full"
    work(out, "main")
    methods = ["fork", "spawn"] if size == "small" else ["fork", "spawn", "forkserver"]
    for method in methods:
        run_child(method, out)
    if size != "small":
        run_pool(out, managed=size == "managed")
    run_chain(2, out)
    return EXIT_STATUS


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
