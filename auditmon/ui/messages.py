"""The messages that feed the UI: snapshots and answers from the monitor's thread, and a
screen's request for data, which bubbles up to the app."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from auditmon.monitor.requests import Answer, Request
from auditmon.views.snapshot import Snapshot


class SnapshotReady(Message):
    """A new snapshot from the monitor's thread; newer ones replace older queued ones."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReady)


class AnswerReady(Message):
    """The monitor's answer to a request."""

    def __init__(self, answer: Answer) -> None:
        super().__init__()
        self.answer = answer


class Ask(Message):
    """A screen wants data: the app passes ``request`` on and hands the answer back to
    the screen.  ``refresh``: the screen has data already and only wants it fresher
    (a paused app does not ask)."""

    def __init__(self, request: Request, asker: Any, refresh: bool = False) -> None:
        super().__init__()
        self.request = request
        self.asker = asker  # has ``answered(answer)``
        self.refresh = refresh
