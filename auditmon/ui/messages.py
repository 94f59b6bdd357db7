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


class ChangeView(Message):
    """A screen wants the view changed: these fields replaced (``View``'s names)."""

    def __init__(self, **changes: Any) -> None:
        super().__init__()
        self.changes = changes


class CycleView(Message):
    """A screen wants a view field moved on to the next of ``choices`` (a sort)."""

    def __init__(self, field: str, choices: tuple[str, ...], what: str) -> None:
        super().__init__()
        self.field, self.choices, self.what = field, choices, what


class Open(Message):
    """A screen wants another one opened, in the app's current view: ``event``
    (``name``), ``cell`` (``category``, ``second``), ``process`` (``process_id``),
    ``tail``; or an ``export`` of the view."""

    def __init__(self, what: str, **target: Any) -> None:
        super().__init__()
        self.what, self.target = what, target


class ShowLatest(Message):
    """A screen came back to the top: show it the latest snapshot."""
