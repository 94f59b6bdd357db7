"""The alerts view: one row per rule that fired (priority, count, first and last time,
processes), the selected rule's alerts below; Enter opens the triggering occurrence."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from auditmon.catalog import Catalog
from auditmon.model.alerts import AlertGroup
from auditmon.ui.presenters import clock_text, plural
from auditmon.ui.screens.base import MonitorScreen
from auditmon.ui.screens.occurrence import OccurrenceScreen
from auditmon.ui.widgets.status import StatusLine
from auditmon.ui.widgets.tables import KeptCursorTable
from auditmon.views.palette import PRIORITY_STYLE
from auditmon.views.snapshot import Snapshot


def priority_text(priority: str) -> Text:
    return Text(priority, style=PRIORITY_STYLE.get(priority, ""))


class AlertGroupsTable(KeptCursorTable):
    """One row per rule: the most severe first."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for label, width in (
            ("priority", 13),
            ("rule", 48),
            ("count", 8),
            ("suppressed", 10),
            ("first", 12),
            ("last", 12),
            ("pids", 30),
        ):
            self.add_column(label, width=width, key=label)

    def show(self, groups: tuple[AlertGroup, ...]) -> None:
        self.groups = {g.rule: g for g in groups}
        self.refill(
            [
                (
                    g.rule,
                    (
                        priority_text(g.priority),
                        Text(g.rule, no_wrap=True, overflow="ellipsis"),
                        f"{g.count:,}",
                        f"{g.suppressed:,}" if g.suppressed else "",
                        clock_text(g.first_time),
                        clock_text(g.last_time),
                        ", ".join(str(p) for p in g.pids[:8]) + (" …" if len(g.pids) > 8 else ""),
                    ),
                )
                for g in groups
            ]
        )


class AlertsTable(KeptCursorTable):
    """The selected rule's alerts shown (oldest first): time, pid, what happened."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for label, width in (("time", 12), ("pid", 7), ("seq", 8), ("what happened", 140)):
            self.add_column(label, width=width, key=label)

    def show(self, group: AlertGroup | None) -> None:
        self.alerts = {f"{a.pid}:{a.seq}": a for a in (group.alerts if group else ())}
        self.refill(
            [
                (
                    key,
                    (
                        clock_text(a.time),
                        str(a.pid),
                        str(a.seq),
                        Text(a.output, no_wrap=True, overflow="ellipsis"),
                    ),
                )
                for key, a in self.alerts.items()
            ]
        )


class AlertsScreen(MonitorScreen):
    """Key ``a`` on the main screen; follows each snapshot."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("tab", "focus_next", "Next table", show=False),
    ]

    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.catalog = catalog
        self.groups: tuple[AlertGroup, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static(id="alerts-title")
        yield AlertGroupsTable(id="alert-groups")
        yield Static("The rule's alerts (enter: the event that raised one)", classes="caption")
        yield AlertsTable(id="alerts")
        yield StatusLine(classes="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(AlertGroupsTable).focus()

    def show_snapshot(self, snapshot: Snapshot, paused: bool) -> None:
        super().show_snapshot(snapshot, paused)
        view = snapshot.alerts
        title = Text()
        if not view.active:
            title.append("No rules are loaded: run with --rules default (or a rule file).")
        elif not view.total:
            title.append("No alerts: nothing the rules watch for has happened.")
        else:
            title.append(plural(view.total, "alert"), style="bold")
            for priority, count in view.counts:
                title.append("  ")
                title.append_text(priority_text(f"{count:,} {priority}"))
        self.query_one("#alerts-title", Static).update(title)
        self.groups = view.groups
        groups = self.query_one(AlertGroupsTable)
        groups.show(view.groups)
        self._show_alerts()

    def _show_alerts(self) -> None:
        groups = self.query_one(AlertGroupsTable)
        key = groups.current_key()
        group = next((g for g in self.groups if g.rule == key), None)
        self.query_one(AlertsTable).show(group)

    @on(DataTable.RowHighlighted, "#alert-groups")
    def rule_chosen(self, message: DataTable.RowHighlighted) -> None:
        self._show_alerts()

    @on(DataTable.RowSelected, "#alert-groups")
    def open_latest(self, message: DataTable.RowSelected) -> None:
        group = next((g for g in self.groups if g.rule == message.row_key.value), None)
        if group is not None and group.latest is not None:
            self.app.push_screen(OccurrenceScreen(group.latest.occurrence, self.catalog))

    @on(DataTable.RowSelected, "#alerts")
    def open_alert(self, message: DataTable.RowSelected) -> None:
        alert = self.query_one(AlertsTable).alerts.get(message.row_key.value)
        if alert is not None:
            self.app.push_screen(OccurrenceScreen(alert.occurrence, self.catalog))
