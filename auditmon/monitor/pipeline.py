"""What every monitor runs: ingest feeding the session model, optionally a recording, and,
when rules are loaded, the rule engine, whose alerts go to the session's alert book, the
recording and any other alert sinks (``--alerts``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from auditmon.ingest.ledger import Ledger
from auditmon.ingest.loop import Ingest
from auditmon.ingest.sinks import Fanout, Sink
from auditmon.model.alerts import Alert, AlertSink
from auditmon.record.writer import Recorder
from auditmon.rules import RuleEngine, RuleSet


class Pipeline:
    """Ingest → (model sink, recorder, rule engine); also the ``Intake`` that feeds hand
    data to.  The engine runs last, so a recording has an alert's event before it."""

    def __init__(
        self,
        model: Sink,
        record: str | Path | None,
        problem: Callable[[str], None],
        spool: Recorder | None = None,
        rules: RuleSet | None = None,
        alert_sinks: Sequence[AlertSink] = (),
    ) -> None:
        # OSError: cannot write it
        self.recorder = Recorder(record, problem=problem) if record else None
        self.spool = spool  # the live monitor's own recording, which exports read back
        self.problem = problem
        self.alert_sinks: list[AlertSink] = list(alert_sinks)
        if self.recorder is not None:
            self.alert_sinks.append(self.recorder)
        self.engine = RuleEngine(rules, self.alert_sinks) if rules is not None else None
        self.ingest = Ingest(Fanout(model, self.recorder, spool, self.engine), problem)

    @property
    def ledger(self) -> Ledger:
        return self.ingest.ledger

    @property
    def recording_failed(self) -> bool:
        """Whether the recording stopped early (``Recorder.failure`` says why)."""
        return self.recorder is not None and self.recorder.failure is not None

    def flush(self) -> None:
        """Put what the recordings hold on disk, for a session's watchers to read."""
        if self.recorder is not None:
            self.recorder.flush()

    def recorded_alert(self, alert: Alert, suppressed: int = 0) -> None:
        """An alert read from a recording (``suppressed``: a count of those not shown):
        passed on as it was, unless rules are loaded, which judge the events afresh."""
        if self.engine is not None:
            return
        for sink in self.alert_sinks:
            if suppressed:
                sink.suppressed(alert, suppressed)
            else:
                sink.alert(alert)

    def hold_exit(self, pid: int) -> None:
        """The recordings keep ``pid``'s exit record until ``close`` knows its status."""
        for recorder in (self.recorder, self.spool):
            if recorder is not None:
                recorder.hold_exit(pid)

    def poll(self, timeout: float) -> None:
        self.ingest.poll(timeout)

    def close(self, exit_codes: Mapping[int, int] | None = None) -> None:
        """Close every connection, settle known exit codes, finish the recording.

        ``exit_codes`` maps a pid to the status only the monitor knows (the launched
        command's); the last process image with that pid gets it.
        """
        self.ingest.close()
        for pid, code in (exit_codes or {}).items():
            image = self.ingest.last_image(pid)
            if image is not None:
                image.exit_code = code
            for recorder in (self.recorder, self.spool):
                if recorder is not None:
                    recorder.release_exit(pid, code)
        for recorder in (self.recorder, self.spool):
            if recorder is not None:
                recorder.close()
