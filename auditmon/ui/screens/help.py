"""Every key, and what the panels mean."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = [
    ("tab / shift+tab", "move between panels"),
    ("↑ ↓ ← →, j k h l", "move within a panel"),
    ("enter", "drill in: event → arguments → one occurrence; heatmap cell → its events"),
    ("escape", "back one level (the place is kept)"),
    ("/", "filter: event globs, cat:NAME, pid=N, risk>=LEVEL, ARG~TEXT, ARG=TEXT"),
    ("p", "pause or resume the view (ingest keeps going; nothing is lost)"),
    ("s", "change the sort of the events table"),
    ("e", "export the current view to JSON Lines"),
    ("ctrl+p", "command palette"),
    ("?", "this help"),
    ("q", "quit"),
]


class HelpScreen(ModalScreen):
    """Every key, and what the panels mean."""

    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("auditmon keys\n\n", style="bold")
        for keys, meaning in HELP:
            text.append(f"{keys:<18}", style="bold cyan")
            text.append(f"{meaning}\n")
        text.append(
            "\nPanels: processes (select one to scope everything to it), the category heatmap "
            "(one column per second, colour by count on a log scale), events, and the "
            "command's output. Drops are always shown in the status line.",
            style="dim",
        )
        yield Static(text, id="help")
