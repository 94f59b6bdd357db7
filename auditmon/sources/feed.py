"""What a source of events looks like to the monitor that runs it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from auditmon.ingest.loop import Ingest
    from auditmon.model.alerts import Alert
    from auditmon.record.writer import Recorder


class Intake(Protocol):
    """What a feed hands its data to: ingest (sockets, decoding, accounting) and the
    recorder, if the session is being recorded."""

    ingest: Ingest
    recorder: Recorder | None

    def problem(self, message: str) -> None: ...

    def recorded_alert(self, alert: Alert, suppressed: int = 0) -> None:
        """An alert read from a recording (see ``Pipeline.recorded_alert``)."""

    def hold_exit(self, pid: int) -> None:
        """Keep ``pid``'s exit record back until its exit status is known."""


class Feed(Protocol):
    """A launched command, an attached process or a recording, stepped by a monitor.

    ``state`` is a short line for the status bar; ``finished`` turns true once nothing
    more can come (the recording is read, the attached process is gone).
    """

    mode: str
    state: str
    finished: bool

    def open(self, intake: Intake) -> None:
        """Get ready, on the monitor's thread, before the first step."""

    def step(self, intake: Intake) -> None:
        """Take in what is there, waiting a short while (about 50 ms) at most."""

    def exit_codes(self) -> dict[int, int]:
        """Exit statuses only this feed knows (the launched command's), by pid."""

    def close(self) -> None:
        """Let go of what the feed holds (after the monitor closed ingest)."""
