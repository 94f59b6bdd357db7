"""The status line: what the monitor follows, totals, drops (never hidden), pause, filter."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from auditmon.ui import presenters
from auditmon.views.palette import PRIORITY_STYLE
from auditmon.views.snapshot import Snapshot


class StatusLine(Static):
    """Connection state, totals, rate, drops (never hidden), pause, filter, and the limits."""

    _shown: Text | None = None

    def show(self, snapshot: Snapshot, paused: bool) -> None:
        """Update the line when its text changed (it is always one line: no new layout)."""
        state, problem = snapshot.status.state, snapshot.status.problem
        text = Text()
        text.append(f" {state} ", style="reverse")
        if snapshot.view.process_id is not None:
            text.append(f"  {snapshot.scope}", style="bold")
        text.append(f"  {presenters.plural(snapshot.total_events, 'event')}  ")
        if snapshot.rate is not None:
            text.append(f"{snapshot.rate:,.0f}/s  ")
        drops = snapshot.total_dropped
        text.append(f" {drops:,} dropped ", style="bold white on red" if drops else "")
        alerts = snapshot.alerts
        if alerts.active:  # never hidden once rules are loaded: "no alerts" says something
            if not alerts.total:
                text.append("  no alerts", style="dim")
            for priority, count in alerts.counts:
                text.append("  ")
                text.append(f" {count:,} {priority} ", style=PRIORITY_STYLE.get(priority, ""))
        if paused:
            text.append("  PAUSED (ingest continues)", style="bold yellow")
        flt = snapshot.view.filter
        if not flt.empty:
            text.append(f"  filter: {flt.text}", style="bold cyan")
            if snapshot.unchecked:
                text.append(
                    f" ({snapshot.unchecked:,} unchecked: argument lists past the bound)",
                    style="bold yellow",
                )
        text.append(f" sort: {snapshot.view.sort}", style="dim")
        if problem:
            text.append(f"  {problem}", style="bold red")
        if snapshot.startup_unseen:
            text.append(
                f"  · start-up events (before site) not seen in "
                f"{snapshot.startup_unseen:,} process{'es' if snapshot.startup_unseen > 1 else ''}",
                style="dim",
            )
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)
