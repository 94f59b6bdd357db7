"""Asking before quitting stops a command that still runs."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmQuit(ModalScreen[bool]):
    """Dismissed with True to quit (the command gets SIGTERM), False to stay."""

    BINDINGS = [
        Binding("y,enter,ctrl+c", "answer(True)", "Quit"),
        Binding("n,escape", "answer(False)", "Stay"),
    ]

    def __init__(self, command: str) -> None:
        super().__init__()
        self.command = command

    def compose(self) -> ComposeResult:
        text = Text()
        text.append(f"{self.command} is still running.\n\n", style="bold")
        text.append("Quit, and stop it with SIGTERM?   ")
        text.append("y", style="bold cyan")
        text.append(" quit   ")
        text.append("n", style="bold cyan")
        text.append(" stay")
        with Vertical(id="confirm"):
            yield Static(text)

    def action_answer(self, quit_now: bool) -> None:
        self.dismiss(quit_now)
