"""``auditmon ls``: this user's attachable processes."""

from __future__ import annotations

import argparse
import sys
import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditmon.sources.attach import Attachable, attachable


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ls", help="list attachable processes", description="List this user's attachable processes."
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also list this user's other Python processes (attach brings the agent in)",
    )
    parser.set_defaults(func=run)


def _sessions() -> list[Attachable]:
    """The ``auditmon run`` sessions of this user that can be watched."""
    from auditmon.sources.sessions import sessions

    return [
        Attachable(
            body["pid"],
            "auditmon run -- " + " ".join(map(str, body.get("command") or [])).replace("\n", " "),
            float(body.get("start") or 0.0),
            None,
            None,
            session=True,
        )
        for body in sessions()
        if isinstance(body.get("pid"), int)
    ]


def _without_agent(listed: set[int]) -> list[Attachable]:
    """This user's Python processes that run no agent yet."""
    import psutil

    from auditmon.sources.inject import python_processes

    rows = []
    for process in python_processes(listed):
        try:
            command = " ".join(process.cmdline()) or process.name()
            started = process.create_time()
        except psutil.Error:
            continue
        rows.append(Attachable(process.pid, command, started, None, None, agent=False))
    return sorted(rows, key=lambda row: row.pid)


def uptime_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def run(args: argparse.Namespace) -> int:
    rows = attachable() + _sessions()
    if args.all:
        rows += _without_agent({row.pid for row in rows})
    # Piped output keeps one process per line, whatever the width, for grep and awk.
    console = Console() if sys.stdout.isatty() else Console(width=10_000)
    if not rows:
        console.print(
            "No attachable processes. Start one in a shell prepared with: "
            'eval "$(auditmon env)"' + ("" if args.all else ", or see `auditmon ls --all`"),
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
        known = row.agent and not row.session
        events = f"{row.events:,}" if row.events is not None else "?" if known else "-"
        attached = row.error or ("yes" if row.attached else "no")
        if row.attached and row.monitors is not None and row.monitors > 1:
            attached = f"yes ({row.monitors} monitors)"
        if row.paused:
            attached = "no (paused: recording from the next attach)"
        if row.agent is False:
            attached = "no agent yet"
        if row.session:
            attached = "a session: watch it"
        table.add_row(
            str(row.pid), Text(row.command), uptime_text(now - row.started), events, attached
        )
    console.print(table)
    return 0
