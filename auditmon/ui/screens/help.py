"""Every key, and what the panels mean."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = [
    ("tab / shift+tab", "move between panels (and value tables)"),
    ("↑ ↓ ← →, j k h l", "move within a panel"),
    ("home g / end G", "first / last row"),
    (
        "enter",
        "drill in: process → its details; event → arguments → one occurrence; "
        "heatmap cell → its events; a value → filter on it",
    ),
    ("escape", "back one level (the place is kept); on the main screen: all processes"),
    (
        "/",
        "filter: event globs, cat:NAME, pid=N, risk>=LEVEL, ARG~TEXT, ARG=TEXT, "
        "and, or, not, ( ), in (…), startswith, glob, regex…",
    ),
    ("s / o", "sort the events / order the processes (or click a column heading)"),
    ("w", "the next warning (events, occurrences)"),
    ("ctrl+f, n", "search the occurrences listed, the next match"),
    ("t", "tail: the latest events as they come"),
    ("a", "alerts: what the rules said, by rule (enter: the event that raised one)"),
    ("i", "what the scope touched: files, hosts, commands, modules, code"),
    ("p", "pause or resume the view (ingest keeps going; nothing is lost)"),
    ("e", "export the current view to JSON Lines"),
    ("ctrl+p", "command palette"),
    ("?", "this help"),
    ("q, ctrl+c", "quit (ctrl+c asks while the command still runs)"),
]


class HelpScreen(ModalScreen):
    """Every key, and what the panels mean."""

    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column(overflow="fold")
        for keys, meaning in HELP:
            table.add_row(keys, meaning)
        notes = Text(
            "Panels: processes (select one to scope everything to it), the category heatmap "
            "(one column per second, colour by count on a log scale), events, and the "
            "command's output. Drops are always shown in the status line.",
            style="dim",
        )
        with VerticalScroll(id="help"):
            yield Static(Text("auditmon keys", style="bold"))
            yield Static(table)
            yield Static(notes, classes="notes")
            yield Static(Text("escape, ? or q: close", style="bold"), classes="notes")
