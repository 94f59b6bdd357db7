"""One process, whole: its command line, where it runs, how it ended, its parents and
children, and what it did most."""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from auditmon.catalog import Catalog
from auditmon.monitor.requests import Answer, ProcessRequest
from auditmon.ui import presenters
from auditmon.ui.messages import Ask
from auditmon.ui.screens.base import MonitorScreen
from auditmon.ui.widgets.status import StatusLine
from auditmon.views.process import ProcessDetail


def _when(epoch: float | None) -> str:
    if not epoch:
        return "-"
    return (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) + f".{int(epoch % 1 * 1000):03d}"
    )


class ProcessScreen(MonitorScreen):
    """Enter on a process row; refreshed every second while it lives."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, process_id: int, catalog: Catalog) -> None:
        super().__init__()
        self.process_id = process_id
        self.catalog = catalog
        self.detail: ProcessDetail | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="process"):
            yield Static(id="process-body")
        yield StatusLine(classes="status")
        yield Footer()

    def on_mount(self) -> None:
        self.post_message(Ask(ProcessRequest(self.process_id), self))
        self.set_interval(1.0, self.refresh_detail)

    def refresh_detail(self) -> None:
        self.post_message(Ask(ProcessRequest(self.process_id), self, refresh=True))

    def answered(self, answer: Answer) -> None:
        if answer.error is not None or not self.is_mounted:
            return
        self.detail = answer.value
        body = self.query_one("#process-body", Static)
        body.update(self.render_detail(answer.value))

    def render_detail(self, detail: ProcessDetail | None) -> Table | Text:
        if detail is None:
            return Text("This process is no longer known to the monitor.", style="dim")
        p = detail.process
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row("pid", f"{p.pid}   (ppid {p.ppid})")
        grid.add_row("command", Text(" ".join(p.argv) if p.argv else p.executable))
        grid.add_row("executable", Text(p.executable or "-"))
        grid.add_row("cwd", Text(p.cwd or "-"))
        grid.add_row("python", f"{p.python or '-'}   agent {p.agent or '-'}")
        grid.add_row("started", _when(p.start))
        grid.add_row("state", Text(detail.state))
        if p.end_time:
            grid.add_row("ended", _when(p.end_time))
        grid.add_row(
            "events",
            f"{detail.events:,} received, {p.dropped:,} dropped, {p.lost:,} lost",
        )
        if detail.facts:
            f = detail.facts
            cpu, rss = presenters.number(f.get("cpu")), presenters.human_bytes(f.get("rss"))
            grid.add_row(
                "now",
                f"CPU {cpu}%  RSS {rss}  threads {presenters.number(f.get('threads'))}"
                f"  open files {presenters.number(f.get('open_files'))}",
            )
        chain = " ← ".join(
            f"{pid} {presenters.shorten_command(cmd, 40)}" for pid, cmd in detail.ancestors
        )
        grid.add_row("parents", Text(chain or "none reported"))
        if detail.children:
            children = Text()
            for _, pid, cmd, state in detail.children:
                children.append(f"{pid} {presenters.shorten_command(cmd, 60)}  ")
                children.append(f"{state}\n", style="dim")
            grid.add_row("children", children)
        else:
            grid.add_row("children", Text("none reported", style="dim"))
        top = Table(box=None, pad_edge=False, show_header=True)
        top.add_column("events", justify="right")
        top.add_column("event")
        top.add_column("category")
        for name, count in detail.top_events:
            category = self.catalog.category(self.catalog.category_for(name))
            top.add_row(f"{count:,}", name, Text(category.title, style=category.color))
        grid.add_row("top events", top)
        return grid
