"""What every monitor runs: ingest feeding the session model and, optionally, a recording."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from auditmon.ingest.ledger import Ledger
from auditmon.ingest.loop import Ingest
from auditmon.ingest.sinks import Fanout, Sink
from auditmon.record.writer import Recorder


class Pipeline:
    """Ingest → (model sink, recorder); also the ``Intake`` that feeds hand data to."""

    def __init__(
        self,
        model: Sink,
        record: str | Path | None,
        problem: Callable[[str], None],
        spool: Recorder | None = None,
    ) -> None:
        self.recorder = Recorder(record) if record else None  # OSError: cannot write it
        self.spool = spool  # the live monitor's own recording, which exports read back
        self.problem = problem
        self.ingest = Ingest(Fanout(model, self.recorder, spool), problem)

    @property
    def ledger(self) -> Ledger:
        return self.ingest.ledger

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
