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
        self, model: Sink, record: str | Path | None, problem: Callable[[str], None]
    ) -> None:
        self.recorder = Recorder(record) if record else None  # OSError: cannot write it
        self.problem = problem
        self.ingest = Ingest(Fanout(model, self.recorder), problem)

    @property
    def ledger(self) -> Ledger:
        return self.ingest.ledger

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
            if self.recorder is not None:
                self.recorder.release_exit(pid, code)
        if self.recorder is not None:
            self.recorder.close()
