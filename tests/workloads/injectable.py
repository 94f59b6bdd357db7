"""A Python process started without auditmon, for ``auditmon attach``'s injection tests.

Usage: python injectable.py MODE STOP_FILE, MODE one of
  busy     raises demo.tick flat out until STOP_FILE exists
  threads  ten named threads raise demo.thread, with short sleeps, until STOP_FILE exists
  select   blocked in select() on stdin; a line raises demo.line; "bye" ends it
  sleep    one long sleep (ended by a signal)
  lock     its only thread blocked acquiring a held lock (ended by a signal)
  gil      a long computation holding the GIL ("computed" once it is over), then
           sleeps until STOP_FILE exists
It prints "ready" first, and "done" when it ends by itself.
"""

import os
import select
import sys
import threading
import time

mode, stop = sys.argv[1], sys.argv[2]
print("ready", flush=True)
if mode == "busy":
    i = 0
    while not os.path.exists(stop):
        sys.audit("demo.tick", i)
        i += 1
elif mode == "threads":

    def work(n):
        i = 0
        while not os.path.exists(stop):
            sys.audit("demo.thread", n, i)
            i += 1
            time.sleep(0.002)

    workers = [threading.Thread(target=work, args=(n,), name=f"worker-{n}") for n in range(10)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
elif mode == "select":
    while True:
        select.select([sys.stdin], [], [])
        line = sys.stdin.readline().strip()
        if line in ("bye", ""):
            break
        sys.audit("demo.line", line)
elif mode == "sleep":
    time.sleep(3600)
elif mode == "gil":
    power = 3**12_000_000  # one long C call that keeps the GIL
    print("computed", flush=True)
    while not os.path.exists(stop):
        time.sleep(0.01)
elif mode == "lock":
    held = threading.Lock()
    held.acquire()
    held.acquire()
print("done", flush=True)
