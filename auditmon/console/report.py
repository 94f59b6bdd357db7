"""``auditmon report``'s text: readable in a terminal (rich), or markdown to paste into a
review.  Both show the run, how its paths are named, its processes, and the inventory
of every process (then of each process tree, when there are several)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditmon.console.inventory_rows import TITLES, Row, section_rows
from auditmon.model.ending import ending_text
from auditmon.report import SECTIONS


def headline(report: dict[str, Any]) -> str:
    recording = report["recording"]
    trees = len(report["trees"])
    text = (
        f"{recording['path']}: {recording['events']:,} events from "
        f"{recording['processes']} process{'es' * (recording['processes'] != 1)}"
        f"{f' in {trees} trees' if trees > 1 else ''}; {recording['dropped']:,} dropped"
    )
    return text + (f"; {recording['cut']}" if recording.get("cut") else "")


def roots_text(report: dict[str, Any]) -> str:
    """How paths are named: each label and what it stands for (temporaries counted)."""
    parts, temps = [], 0
    for root in report["roots"]:
        if root["label"] == "<tmp>":
            temps += 1
        else:
            parts.append(f"{root['label']} = {root['path']}")
    if temps:
        parts.append(f"<tmp> = {temps} temporary name{'s' * (temps != 1)} the run made")
    return "; ".join(parts)


def _ending(process: dict[str, Any]) -> str:
    return ending_text(process["status"], process["exit_code"], None)


def tree_counts(tree: dict[str, Any]) -> str:
    inventory = tree["inventory"]
    return ", ".join(f"{s} {len(inventory[s])}" for s in SECTIONS if inventory[s]) or "nothing"


def render_report(
    report: dict[str, Any], console: Console, limit: int = 50, trees: bool = False
) -> None:
    """The report for a terminal; ``limit`` rows per section (0: all); ``trees``: each
    process tree's inventory too (else a line of counts per tree)."""
    console.print(Text("auditmon report: ", style="bold") + Text(headline(report)))
    if report["recording"].get("cut"):
        console.print(Text(f"  {report['recording']['cut']}", style="bold yellow"))
    console.print(Text(f"Paths: {roots_text(report)}", style="dim"), soft_wrap=True)
    table = Table(title="Processes", title_justify="left", box=None, pad_edge=False)
    for column in ("pid", "ppid", "command", "end"):
        table.add_column(column, overflow="fold", justify="right" if "pid" in column else "left")
    for process in report["processes"]:
        indent = "  " if process["tree"] != process["pid"] else ""
        table.add_row(
            str(process["pid"]),
            str(process["ppid"]),
            Text(indent + " ".join(" ".join(process["argv"]).split())),
            _ending(process),
        )
    console.print(table)
    _render_inventory(report["inventory"], console, limit, "")
    if len(report["trees"]) > 1:
        for tree in report["trees"]:
            console.rule(Text(f"Tree of {tree['root']}: {tree['command']}", style="bold"))
            if trees:
                _render_inventory(tree["inventory"], console, limit, "  ")
            else:
                console.print(Text(f"  {tree_counts(tree)} (--trees lists them)", style="dim"))


def _render_inventory(inventory: dict[str, Any], console: Console, limit: int, pad: str) -> None:
    for section in SECTIONS:
        rows = section_rows(section, inventory[section])
        if not rows:
            continue
        table = Table(
            title=f"{pad}{TITLES[section]} ({len(inventory[section]):,})",
            title_justify="left",
            title_style="bold",
            box=None,
            pad_edge=False,
        )
        table.add_column("what", overflow="fold", ratio=3)
        table.add_column("detail", overflow="fold", ratio=3)
        table.add_column("first event", justify="right", no_wrap=True)
        table.add_column("source", overflow="fold", ratio=2, style="dim")
        for row in _limited(rows, limit):
            table.add_row(Text(row.what), Text(row.detail), row.first, Text(row.source))
        console.print(table)
        if limit and len(rows) > limit:
            console.print(f"[dim]{pad}… {len(rows) - limit:,} more (--limit 0 shows all)[/]")
    if inventory.get("not_kept"):
        console.print(
            f"[yellow]{pad}{inventory['not_kept']:,} more distinct items past the bound "
            "were counted, not kept[/]"
        )


def _limited(rows: list[Row], limit: int) -> list[Row]:
    return rows if not limit else rows[:limit]


def markdown_report(report: dict[str, Any], limit: int = 50, trees: bool = False) -> str:
    """The report as markdown (GitHub's flavour): headings, one table per section."""
    lines = [f"## auditmon report: {_md(headline(report))}", ""]
    if report["recording"].get("cut"):
        lines += [f"> **{_md(report['recording']['cut'])}**", ""]
    lines += [f"Paths: {_md(roots_text(report))}", "", "### Processes", ""]
    lines += ["| pid | ppid | command | end |", "|---:|---:|---|---|"]
    for process in report["processes"]:
        command = " ".join(" ".join(process["argv"]).split())
        lines.append(
            f"| {process['pid']} | {process['ppid']} | `{_code(command)}` | {_ending(process)} |"
        )
    lines.append("")
    lines += _markdown_inventory(report["inventory"], limit, "###")
    if len(report["trees"]) > 1:
        for tree in report["trees"]:
            lines += [f"### Tree of {tree['root']}: `{_code(tree['command'])}`", ""]
            if trees:
                lines += _markdown_inventory(tree["inventory"], limit, "####")
            else:
                lines += [tree_counts(tree), ""]
    return "\n".join(lines).rstrip() + "\n"


def _markdown_inventory(inventory: dict[str, Any], limit: int, level: str) -> list[str]:
    lines: list[str] = []
    for section in SECTIONS:
        rows = section_rows(section, inventory[section])
        if not rows:
            continue
        lines += [f"{level} {TITLES[section]} ({len(inventory[section]):,})", ""]
        lines += ["| what | detail | first event | source |", "|---|---|---:|---|"]
        for row in _limited(rows, limit):
            lines.append(
                f"| `{_code(row.what)}` | {_md(row.detail)} | {row.first} | {_md(row.source)} |"
            )
        if limit and len(rows) > limit:
            lines.append(f"\n… {len(rows) - limit:,} more (`--limit 0` shows all)")
        lines.append("")
    if inventory.get("not_kept"):
        lines += [f"{inventory['not_kept']:,} more distinct items were counted, not kept.", ""]
    return lines


def _md(text: str) -> str:
    """Text safe in a markdown table cell."""
    out = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for char in "*_`<>[]":
        out = out.replace(char, "\\" + char)
    return out


def _code(text: str) -> str:
    """Text for an inline code span in a table cell (backticks and pipes can't be in it)."""
    return text.replace("`", "'").replace("|", "\\|").replace("\n", " ")
