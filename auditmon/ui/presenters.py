"""Pure formatting of snapshot data for the widgets: testable without a terminal."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text

from auditmon.catalog import Catalog
from auditmon.text import shorten
from auditmon.views.heat import Heatmap, heat_level
from auditmon.views.palette import RISK_STYLE
from auditmon.views.snapshot import ProcessRow

SPARK = " ▁▂▃▄▅▆▇█"
HEAT = " ░▒▓█"


def sparkline(counts: Sequence[int], width: int = 20) -> str:
    """The last ``width`` counts as block characters scaled to their peak."""
    counts = list(counts)[-width:]
    peak = max(counts, default=0)
    if peak <= 0:
        return " " * len(counts)
    return "".join(SPARK[0 if c <= 0 else max(1, round(c / peak * 8))] for c in counts)


def human_bytes(count: int | None) -> str:
    if count is None:
        return "-"
    size = float(count)
    for unit in ("B", "K", "M", "G"):
        if size < 1024 or unit == "G":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}G"


def number(value: float | int | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def plural(count: int, noun: str) -> str:
    """``1 event``, ``2,048 events``."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def process_label(row: ProcessRow, width: int = 40) -> str:
    """Indented command (tree by parent), shortened to ``width``."""
    text = "  " * row.depth + ("└ " if row.depth else "") + _short_command(row.command)
    return shorten(text, width)


def shorten_command(command: str, width: int) -> str:
    """A command line on one line, base names for the interpreter and script, cut."""
    return shorten(_short_command(command), width)


def _short_command(command: str) -> str:
    """The interpreter's and a script's base names: ``python3 busy.py 12``."""
    parts = " ".join(command.split()).split(" ")
    for i, part in enumerate(parts[:2]):
        if "/" in part and (i == 0 or part.endswith(".py")):
            parts[i] = part.rsplit("/", 1)[-1]
    return " ".join(parts)


def heatmap_lines(
    heatmap: Heatmap,
    catalog: Catalog,
    label_width: int = 14,
    selected: tuple[int, int] | None = None,
) -> list[Text]:
    """One Text per category row: label, cells coloured by count (log scale), total."""
    lines = []
    for row, (name, cells, total) in enumerate(
        zip(heatmap.categories, heatmap.cells, heatmap.totals)
    ):
        category = catalog.category(name)
        line = Text(f"{category.title[:label_width]:<{label_width}} ", style=category.color)
        # Neighbouring cells of one style make one span: a redraw costs by the span.
        run, run_style = [], ""
        for column, count in enumerate(cells):
            level = heat_level(count, heatmap.peak, len(HEAT) - 1)
            style = category.color if level else "grey23"
            if selected == (row, column):
                style = f"reverse {style}"
            if style != run_style and run:
                line.append("".join(run), style=run_style)
                run = []
            run.append(HEAT[level] if level else "·")
            run_style = style
        if run:
            line.append("".join(run), style=run_style)
        line.append(f" {total:>9,}")
        lines.append(line)
    return lines


def heat_legend(peak: int) -> Text:
    text = Text("log scale: ", style="dim")
    text.append("· 0  ")
    levels = len(HEAT) - 1
    for level in range(1, levels + 1):
        low = (
            1
            if level == 1
            else max(1, round(peak ** ((level - 1) / (levels - 1))))
            if peak > 1
            else 1
        )
        text.append(f"{HEAT[level]} ≥{low:,}  ")
    text.append("per second", style="dim")
    return text


def risk_text(risk: str) -> Text:
    return Text(risk, style=RISK_STYLE.get(risk, ""))


def clock_text(when: float) -> str:
    """Local time of day to the millisecond."""
    return time.strftime("%H:%M:%S", time.localtime(when)) + f".{int(when % 1 * 1000):03d}"
