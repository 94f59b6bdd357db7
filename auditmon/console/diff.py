"""``auditmon diff``'s text: what B touched that A did not (+), the reverse (-), and files
touched in other ways (~), section by section."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditmon.console.inventory_rows import TITLES, Row, section_rows
from auditmon.report import SECTIONS


def render_diff(diff: dict[str, Any], console: Console) -> None:
    a, b = diff["a"], diff["b"]
    count = diff["differences"]
    summary = "the same" if diff["equal"] else f"{count} difference{'s' * (count != 1)}"
    console.print(
        Text("auditmon diff: ", style="bold") + Text(f"{a['path']} → {b['path']}: {summary}")
    )
    for side, name in ((a, "A"), (b, "B")):
        if side.get("cut"):
            console.print(Text(f"  {name}: {side['cut']}", style="bold yellow"))
        if side.get("dropped"):
            console.print(
                Text(f"  {name}: {side['dropped']:,} events dropped: it may show less", "yellow")
            )
    for section in SECTIONS:
        change = diff["sections"].get(section)
        if not change:
            continue
        table = Table(
            title=TITLES[section], title_justify="left", title_style="bold", box=None,
            pad_edge=False, show_header=False,
        )  # fmt: skip
        table.add_column("", no_wrap=True)
        table.add_column("what", overflow="fold", ratio=3)
        table.add_column("detail", overflow="fold", ratio=3)
        table.add_column("event", justify="right", no_wrap=True)
        for mark, style, items, side in (
            ("+", "green", change["added"], "B"),
            ("-", "red", change["removed"], "A"),
        ):
            rows = section_rows(section, items)
            if section == "files":
                rows = fold_metadata(rows)
            for row in rows:
                first = f"{side} {row.first}" if row.first else ""
                table.add_row(Text(mark, style=style), Text(row.what), Text(row.detail), first)
        for item in change.get("changed", []):
            detail = f"{', '.join(item['a'])} → {', '.join(item['b'])}"
            table.add_row(Text("~", style="yellow"), Text(item["key"]), Text(detail), "")
        console.print(table)


def fold_metadata(rows: list[Row]) -> list[Row]:
    """A package's metadata directory (``NAME-VERSION.dist-info``, ``.egg-info``) as one
    row: a new version has new ones, which say little more than its version."""
    folded: list[Row] = []
    groups: dict[str, list[Row]] = {}
    for row in rows:
        parts = row.what.split("/")
        index = next(
            (i for i, p in enumerate(parts) if p.endswith((".dist-info", ".egg-info"))), None
        )
        if index is None:
            folded.append(row)
            continue
        directory = "/".join(parts[: index + 1])
        if directory not in groups:
            groups[directory] = []
            folded.append(Row(directory, "", row.first, ""))
        groups[directory].append(row)
    for position, row in enumerate(folded):
        if row.what in groups:
            inside = len(groups[row.what]) - (groups[row.what][0].what == row.what)
            detail = f"package metadata: {inside} file{'s' * (inside != 1)} in it"
            folded[position] = Row(row.what, detail, groups[row.what][0].first, "")
    return folded
