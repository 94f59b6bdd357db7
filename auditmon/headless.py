"""The headless monitor: ingest into a session model and, optionally, a recording."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from auditmon import summary
from auditmon.ingest import Fanout, Ingest
from auditmon.model import Session
from auditmon.record import Recorder


def problem(message: str) -> None:
    """Report a one-line problem on stderr."""
    print(message, file=sys.stderr, flush=True)


class Monitor:
    """A session model, an optional recorder and the ingest loop feeding both."""

    def __init__(self, record: str | Path | None = None) -> None:
        self.session = Session(detailed=False)
        self.recorder = Recorder(record) if record else None
        self.ingest = Ingest(Fanout(self.session, self.recorder), problem)

    def run_until(self, done: Callable[[], bool], interval: float = 0.05) -> None:
        """Poll ingest until ``done()`` says stop."""
        while not done():
            self.ingest.poll(interval)

    def close(self, exit_codes: dict[int, int] | None = None) -> None:
        """Close every connection, settle known exit codes, finish the recording.

        ``exit_codes`` maps a pid to the status only we know (the launched command's);
        the last process image with that pid gets it.
        """
        self.ingest.close()
        for pid, code in (exit_codes or {}).items():
            image = self.ingest.last_image(pid)
            if image is not None:
                image.exit_code = code
            if self.recorder is not None:
                self.recorder.release_exit(pid, code)
        if self.recorder is not None:
            self.recorder.close()

    def print_summary(self) -> None:
        # Logs and pipes get one line per row rather than wrapping at 80 columns.
        console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=160)
        summary.render(self.session, console)


class Interrupts:
    """Counts Ctrl-C instead of dying of it: the monitored command decides what it means."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, signum: int, frame: object) -> None:
        self.count += 1


@contextmanager
def catching_interrupts() -> Iterator[Interrupts]:
    interrupts = Interrupts()
    previous = signal.signal(signal.SIGINT, interrupts)
    try:
        yield interrupts
    finally:
        signal.signal(signal.SIGINT, previous)


def wait_with_notice(
    monitor: Monitor, interrupts: Interrupts, grace: float = 0.2, notice_after: float = 2.0
) -> None:
    """Wait for the remaining reporting processes, saying so if it takes a while."""
    started = time.monotonic()
    quiet_since: float | None = None
    noticed = False
    ingest = monitor.ingest
    base = interrupts.count
    while interrupts.count == base:
        ingest.poll(0.05)
        now = time.monotonic()
        if ingest.open_connections:
            quiet_since = None
            if not noticed and now - started > notice_after:
                noticed = True
                problem(
                    f"auditmon: waiting for {ingest.open_connections} process(es) still "
                    "reporting; press Ctrl-C to stop waiting"
                )
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= grace:
            return
