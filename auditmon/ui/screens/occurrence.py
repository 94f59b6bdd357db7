"""Everything about one occurrence."""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from auditmon import record
from auditmon.catalog import Catalog
from auditmon.model import decode, values
from auditmon.model.session import Occurrence
from auditmon.ui.presenters import clock_text
from auditmon.ui.screens.base import MonitorScreen
from auditmon.ui.widgets.status import StatusLine


class OccurrenceScreen(MonitorScreen):
    """Everything about one occurrence: full values, the stack, the raw record."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, occurrence: Occurrence, catalog: Catalog) -> None:
        super().__init__()
        self.occurrence = occurrence
        self.catalog = catalog

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="occurrence"):
            yield Static(id="occurrence-body")
        yield StatusLine(classes="status")
        yield Footer()

    def on_mount(self) -> None:
        o = self.occurrence
        names = self.catalog.arg_names(o.event, len(o.args))
        body = Text()
        body.append(o.event, style="bold")
        thread = f"{o.thread_name} ({o.thread})" if o.thread_name else str(o.thread)
        body.append(f"   pid {o.pid}  seq {o.seq}  thread {thread}  {clock_text(o.time)}\n\n")
        body.append("Arguments\n", style="bold underline")
        for name, value in zip(names, o.args):
            body.append(f"{name} = ", style="bold")
            body.append(values.display(value, 100_000))
            readable = decode.decoded(o.event, name, value)
            if readable is not None:
                body.append(f"  ({readable})", style="cyan")
            body.append("\n")
        body.append("\nPython stack", style="bold underline")
        if o.stack:
            body.append(" (innermost first)\n")
            for file, line, function in o.stack:
                body.append(f"  {file}:{line} in {function}\n")
        else:
            body.append("\n  not captured (run with --stack GLOB to capture it)\n", style="dim")
        body.append("\nRaw record\n", style="bold underline")
        raw = record.event_record(
            o.pid,
            [
                o.seq,
                o.time,
                o.thread,
                o.event,
                list(o.args),
                [list(f) for f in o.stack] if o.stack else None,
            ],
        )
        raw["args"] = record.to_json(raw["args"])
        body.append(json.dumps(raw, ensure_ascii=False, indent=2))
        self.query_one("#occurrence-body", Static).update(body)
