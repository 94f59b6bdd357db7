"""The benchmark's monitor, in a process of its own: auditmon's ingest decoding and
counting every event, as the headless monitor does.

Usage: monitor_process.py SOCKET   (bench/run.py starts it)

It prints "ready" once it listens.  Each "reset" line on stdin is answered, once the
connections open then have finished (or after 30 s), with "EVENTS DROPPED": the counts
since the last reset.  End of stdin ends it.  Its own process, because a monitor thread
in the harness would share the harness's GIL with the thread timing the targets.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditmon.ingest import Fanout, Ingest  # noqa: E402
from auditmon.model import Session  # noqa: E402


def main() -> None:
    session = Session(detailed=False)
    ingest = Ingest(Fanout(session), lambda message: None)
    ingest.listen(Path(sys.argv[1]))
    requests: list[float] = []  # deadlines of the resets asked for, oldest first
    done = threading.Event()

    def read_commands() -> None:
        for line in sys.stdin:
            if line.strip() == "reset":
                requests.append(time.monotonic() + 30)
        done.set()

    threading.Thread(target=read_commands, daemon=True).start()
    print("ready", flush=True)
    while not done.is_set() or requests:
        ingest.poll(0.02)
        if requests and (not ingest.open_connections or time.monotonic() > requests[0]):
            requests.pop(0)
            print(session.total_events, session.total_dropped, flush=True)
            session.event_counts.clear()
            session.processes.clear()
    ingest.close()


if __name__ == "__main__":
    main()
