"""What the app needs of a monitor: the live one (``auditmon.monitor.live``) or a test's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from auditmon.monitor.requests import Request
from auditmon.monitor.turn import UiTurn
from auditmon.views.snapshot import View


class MonitorPort(Protocol):
    """Delivers snapshots and answers (from any thread) to the callback given to
    ``start``; takes the view to show and requests."""

    mode: str
    turn: UiTurn

    def start(self, deliver: Callable[[Any], None]) -> None: ...

    def set_view(self, view: View) -> None: ...

    def ask(self, request: Request) -> None: ...

    def stop(self) -> None: ...
