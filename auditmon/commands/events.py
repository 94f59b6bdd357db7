"""``auditmon events [GLOB] [--category NAME] [--json]``: browse the audit event catalog.

Lists the CPython audit events auditmon knows (name, argument names, category, risk,
docs link) as a table, or as JSON for scripts.  A GLOB that names exactly one event
(``auditmon events open``) shows that event's details instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditmon.catalog import Catalog, EventInfo, load_catalog
from auditmon.views.palette import RISK_STYLE

PROG = "auditmon events"

_GLOB_CHARS = frozenset("*?[")
_MIN_ARGS_WIDTH = 16


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``events`` subcommand to the main parser."""
    parser = subparsers.add_parser(
        "events",
        help="list the known CPython audit events",
        description="List the CPython audit events auditmon knows, with argument names, "
        "category, risk and docs links. A GLOB naming one event shows its details.",
    )
    parser.add_argument(
        "glob",
        nargs="?",
        metavar="GLOB",
        help="event name or case-sensitive glob, e.g. 'socket.*' (default: all events)",
    )
    parser.add_argument("--category", metavar="NAME", help="only events in this category")
    parser.add_argument("--json", action="store_true", help="print a JSON array of entries")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the matching events; 2 for an unknown category, 1 when nothing matches."""
    catalog = load_catalog()
    pattern: str | None = args.glob
    category: str | None = args.category
    if category is not None and category not in {c.name for c in catalog.categories()}:
        names = ", ".join(c.name for c in catalog.categories())
        print(f"{PROG}: unknown category {category!r} (choose from: {names})", file=sys.stderr)
        return 2

    exact = _exact(catalog, pattern, category)
    events = [exact] if exact is not None else catalog.match(pattern, category)
    if not events:
        where = f" in category {category!r}" if category else ""
        what = f"matches {pattern!r}" if pattern else "is listed"
        print(f"{PROG}: no event {what}{where}", file=sys.stderr)
        return 1

    if args.json:
        print(json.dumps([e.to_dict() for e in events], indent=2, ensure_ascii=False))
        return 0
    console = Console(highlight=False)
    if exact is not None:
        console.print(_detail(catalog, exact))
    else:
        console.print(_table(catalog, events, console.width))
    return 0


def _exact(catalog: Catalog, pattern: str | None, category: str | None) -> EventInfo | None:
    """The one event a glob-free pattern names exactly (runtime aliases included)."""
    if pattern is None or _GLOB_CHARS.intersection(pattern):
        return None
    info = catalog.get(pattern)
    if info is None or (category is not None and info.category != category):
        return None
    return info


def _category_text(catalog: Catalog, name: str) -> Text:
    return Text(name, style=catalog.category(name).color)


def _risk_text(risk: str) -> Text:
    return Text(risk, style=RISK_STYLE.get(risk, ""))


def _name_text(info: EventInfo) -> Text:
    name = Text(info.name)
    if info.internal:
        name.append(" (internal)", style="dim")
    return name


def _link(url: str) -> Text:
    return Text(url, style=f"link {url}")


def _table(catalog: Catalog, events: list[EventInfo], width: int) -> Table:
    names = [_name_text(info) for info in events]
    urls = [info.docs[0] if info.docs else "" for info in events]

    def column_width(header: str, cells: Iterable[str]) -> int:
        return max(len(header), *(len(cell) for cell in cells)) + 2  # + padding

    fixed = (
        column_width("Event", (n.plain for n in names))
        + column_width("Category", (e.category for e in events))
        + column_width("Risk", (e.risk for e in events))
    )
    # Links are only useful whole (to copy or click), so the Arguments column wraps
    # first; when even that leaves no room the Docs column is left out.
    args_room = width - fixed - column_width("Docs", urls) - 6 - 2  # borders, padding
    show_docs = args_room >= _MIN_ARGS_WIDTH
    if not show_docs:
        args_room = width - fixed - 5 - 2
    table = Table(
        title=f"CPython audit events ({len(events)})",
        title_justify="left",
        caption=None if show_docs else "Docs links: auditmon events NAME, or a wider terminal",
        caption_justify="left",
    )
    table.add_column("Event", style="bold", no_wrap=True)
    table.add_column("Arguments", max_width=max(_MIN_ARGS_WIDTH, args_room))
    table.add_column("Category", no_wrap=True)
    table.add_column("Risk", no_wrap=True)
    if show_docs:
        table.add_column("Docs", overflow="fold")
    for name, info, url in zip(names, events, urls):
        cells: list[Text | str] = [
            name,
            ", ".join(info.args),
            _category_text(catalog, info.category),
            _risk_text(info.risk),
        ]
        if show_docs:
            cells.append(_link(url) if url else "")
        table.add_row(*cells)
    return table


def _detail(catalog: Catalog, info: EventInfo) -> Table:
    category = catalog.category(info.category)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("Event", Text(info.name, style="bold"))
    grid.add_row("Summary", info.summary)
    grid.add_row("Arguments", ", ".join(info.args) if info.args else Text("(none)", "dim"))
    grid.add_row(
        "Category",
        Text.assemble(
            (category.title, category.color), f" ({category.name}): ", category.description
        ),
    )
    risk = _risk_text(info.risk)
    if info.name == "open":
        risk.append("; warning when opened for writing, appending or creating", style="dim")
    grid.add_row("Risk", risk)
    grid.add_row("Added", f"CPython {info.added}" if info.added else "unknown")
    if info.internal:
        grid.add_row("Internal", "yes: raised inside CPython, not by a public API")
    docs = Text("\n").join(_link(url) for url in info.docs) if info.docs else "(none)"
    grid.add_row("Docs", docs)
    return grid
