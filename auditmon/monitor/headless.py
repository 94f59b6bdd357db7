"""The headless monitor: ingest into a counts-only session model and, optionally, a
recording and rules, on the caller's thread; Ctrl-C is counted, not fatal."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from auditmon.ingest.loop import Ingest
from auditmon.model.alerts import AlertSink
from auditmon.model.session import Session
from auditmon.monitor.pipeline import Pipeline
from auditmon.record.writer import Recorder
from auditmon.rules import RuleSet
from auditmon.views.highlights import HIGHLIGHT_EVENTS


def problem(message: str) -> None:
    """Report a one-line problem on stderr."""
    print(message, file=sys.stderr, flush=True)


#: Seconds between flushes of a session's recording (what its watchers see).
FLUSH_EVERY = 0.25


class Monitor:
    """A counts-only session model, an optional recorder and optional rules (their
    alerts to the session's book and ``alert_sinks``), fed by ingest."""

    def __init__(
        self,
        record: str | Path | None = None,
        rules: RuleSet | None = None,
        alert_sinks: Sequence[AlertSink] = (),
    ) -> None:
        self.session = Session(detailed=False, indexed=HIGHLIGHT_EVENTS)
        self.session.alerts.active = rules is not None
        self.session.alerts.rules_loaded = len(rules.enabled) if rules is not None else 0
        sinks = [self.session.alerts, *alert_sinks]
        # OSError: cannot record
        self.pipeline = Pipeline(self.session, record, problem, rules=rules, alert_sinks=sinks)

    @property
    def ingest(self) -> Ingest:
        return self.pipeline.ingest

    @property
    def recorder(self) -> Recorder | None:
        return self.pipeline.recorder

    def run_until(self, done: Callable[[], bool], interval: float = 0.05) -> None:
        """Poll ingest until ``done()`` says stop; the recording is flushed a few times a
        second, for the session's watchers (``sources.sessions``)."""
        flushed = time.monotonic()
        while not done():
            self.ingest.poll(interval)
            if time.monotonic() - flushed >= FLUSH_EVERY:
                self.pipeline.flush()
                flushed = time.monotonic()

    def close(self, exit_codes: Mapping[int, int] | None = None) -> None:
        """See ``Pipeline.close``."""
        self.pipeline.close(exit_codes)


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
