"""``auditmon ls``: this user's attachable processes."""

from __future__ import annotations

import argparse
import sys
import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditmon.sources.attach import attachable


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ls", help="list attachable processes", description="List this user's attachable processes."
    )
    parser.set_defaults(func=run)


def uptime_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def run(args: argparse.Namespace) -> int:
    rows = attachable()
    # Piped output keeps one process per line, whatever the width, for grep and awk.
    console = Console() if sys.stdout.isatty() else Console(width=10_000)
    if not rows:
        console.print(
            'No attachable processes. Start one in a shell prepared with: eval "$(auditmon env)"',
            highlight=False,
        )
        return 0
    table = Table(box=None, pad_edge=False)
    for column, justify in (
        ("PID", "right"),
        ("COMMAND", "left"),
        ("UPTIME", "right"),
        ("EVENTS", "right"),
        ("ATTACHED", "left"),
    ):
        table.add_column(column, justify=justify, overflow="fold")
    now = time.time()
    for row in rows:
        events = f"{row.events:,}" if row.events is not None else "?"
        attached = row.error or ("yes" if row.attached else "no")
        table.add_row(
            str(row.pid), Text(row.command), uptime_text(now - row.started), events, attached
        )
    console.print(table)
    return 0
