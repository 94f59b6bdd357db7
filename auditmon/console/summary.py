"""The headless summary printed at the end of ``auditmon run --headless`` (like strace -c)."""

from __future__ import annotations

import sys
from collections import defaultdict

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditmon.catalog import load_catalog
from auditmon.model.alerts import AlertGroup
from auditmon.model.ending import process_ending
from auditmon.model.priority import at_least, falco_name
from auditmon.model.process import Process
from auditmon.model.session import Session
from auditmon.views.highlights import highlights

NO_PYTHON_HINT = (
    "auditmon: no Python process reported any events. The command may not be a Python "
    "program, or its interpreter may be older than CPython 3.8, statically linked, or "
    "started with -E, -I or -S where LD_PRELOAD was cleared (the agent comes in through "
    "PYTHONPATH and LD_PRELOAD)."
)


def exit_text(process: Process) -> str:
    """How a process ended, in the summary's words (see ``process_ending``)."""
    return process_ending(process)


def render(session: Session, console: Console) -> None:
    """Print the per-category event table, the per-process table and drops."""
    catalog = load_catalog()
    total = session.total_events
    processes = session.ordered_processes()
    reporting = [t for t in processes if t.process.monitored]
    unreached = len(processes) - len(reporting)
    if not reporting:
        console.print(NO_PYTHON_HINT, highlight=False, soft_wrap=True)
        if not unreached:
            return
    seconds = 0.0
    if session.first_time is not None and session.last_time is not None:
        seconds = session.last_time - session.first_time
    dropped = session.total_dropped
    headline = Text(
        f"auditmon: {total:,} events from {len(reporting)} "
        f"process{'es' if len(reporting) != 1 else ''} over {seconds:.2f} s; "
    )
    headline.append(f"{dropped:,} dropped", style="bold red" if dropped else "")
    if unreached:
        headline.append(
            f"; {unreached} Python process{'es' if unreached != 1 else ''} started but "
            "not monitored (see below)",
            style="bold yellow",
        )
    console.print(headline)

    by_category: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for name, count in session.event_counts.items():
        by_category[catalog.info(name).category].append((name, count))
    table = Table(title="Events by category", title_justify="left", box=None, pad_edge=False)
    table.add_column("% events", justify="right")
    table.add_column("count", justify="right")
    table.add_column("event")
    table.add_column("arguments", overflow="fold")
    order = sorted(by_category.items(), key=lambda item: -sum(c for _, c in item[1]))
    for category_name, rows in order:
        category = catalog.category(category_name)
        subtotal = sum(c for _, c in rows)
        table.add_row(
            _percent(subtotal, total),
            f"{subtotal:,}",
            Text(category.title, style=f"bold {category.color}"),
            "",
        )
        for name, count in sorted(rows, key=lambda row: (-row[1], row[0])):
            info = catalog.info(name)
            table.add_row(_percent(count, total), f"{count:,}", f"  {name}", ", ".join(info.args))
    console.print(table)

    procs = Table(title="Processes", title_justify="left", box=None, pad_edge=False)
    for column, justify in (
        ("pid", "right"),
        ("ppid", "right"),
        ("command", "left"),
        ("events", "right"),
        ("dropped", "right"),
        ("agent", "left"),
        ("end", "left"),
    ):
        procs.add_column(column, justify=justify, overflow="fold")
    for totals in processes:
        process = totals.process
        lost = process.dropped + process.lost
        procs.add_row(
            str(process.pid) if process.pid else "?",
            str(process.ppid),
            Text(" ".join(process.command.split())),  # one line, even for -c code
            f"{totals.total:,}",
            Text(f"{lost:,}", style="bold red") if lost else "0",
            process.agent,
            exit_text(process),
        )
    console.print(procs)
    _print_highlights(session, console)
    print_alerts(session, console)


#: How the summary colours a priority.
PRIORITY_STYLES = {
    "emergency": "bold white on red",
    "alert": "bold white on red",
    "critical": "bold red",
    "error": "red",
    "warning": "yellow",
    "notice": "cyan",
    "informational": "",
    "debug": "dim",
}
OUTPUTS_PER_RULE = 3


def print_alerts(session: Session, console: Console) -> None:
    """One row per rule that alerted (most severe first), with its first few alerts'
    outputs; "none" when rules were loaded and nothing matched."""
    book = session.alerts
    if not book.active and not book.total:
        return
    groups = book.groups()
    if not groups:
        loaded = f" ({book.rules_loaded} rules loaded)" if book.rules_loaded else ""
        console.print(Text(f"Alerts: none{loaded}", style="bold green"))
        return
    serious = sum(g.count for g in groups if at_least(g.priority, "warning"))
    table = Table(
        title=f"Alerts: {book.total:,} from {len(groups)} rule{'s' if len(groups) != 1 else ''}"
        f", {serious:,} at warning or above",
        title_justify="left",
        box=None,
        pad_edge=False,
    )
    for column, justify in (
        ("priority", "left"),
        ("count", "right"),
        ("suppressed", "right"),
        ("pid", "right"),
        ("rule / what happened", "left"),
    ):
        table.add_column(column, justify=justify, overflow="fold")
    for group in groups:
        _alert_rows(table, group)
    console.print(table)


def _alert_rows(table: Table, group: AlertGroup) -> None:
    style = PRIORITY_STYLES.get(group.priority, "")
    pids = ", ".join(str(p) for p in group.pids[:4]) + (" …" if len(group.pids) > 4 else "")
    table.add_row(
        Text(falco_name(group.priority), style=style),
        f"{group.count:,}",
        f"{group.suppressed:,}" if group.suppressed else "",
        pids,
        Text(group.rule, style="bold"),
    )
    for alert in group.alerts[:OUTPUTS_PER_RULE]:
        table.add_row("", "", "", str(alert.pid), Text(f"  {alert.output}"))
    more = len(group.alerts) - OUTPUTS_PER_RULE
    if more > 0:
        table.add_row("", "", "", "", Text(f"  … {more:,} more (--alerts, --record)", style="dim"))


def _print_highlights(session: Session, console: Console) -> None:
    """The top values of what matters most (files written, connections, commands…)."""
    found = highlights(session)
    if not found:
        return
    table = Table(title="Top values", title_justify="left", box=None, pad_edge=False)
    table.add_column("events", justify="right")
    table.add_column("value", overflow="fold")
    for item in found:
        table.add_row("", Text(item.title, style="bold"))
        for shown, count in item.top:
            table.add_row(f"{count:,}", Text(f"  {shown}"))
        if len(item.top) < item.distinct:
            table.add_row("", Text(f"  … {item.distinct - len(item.top):,} more", style="dim"))
        if item.unchecked:
            table.add_row(
                f"{item.unchecked:,}",
                Text("  (arguments past the index's bound, not listed)", style="yellow"),
            )
    console.print(table)


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}" if whole else "0.0"


def print_summary(session: Session) -> None:
    """The summary on stderr; logs and pipes get one line per row rather than wrapping
    at 80 columns."""
    console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=160)
    render(session, console)
