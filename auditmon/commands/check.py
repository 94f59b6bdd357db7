"""``auditmon check --rules … RECORDING…``: the rules over recordings, as they would
have run live (dry-run a new rule against last week's recordings)."""

from __future__ import annotations

import argparse
import json
import socket
import time
from pathlib import Path

from auditmon.commands.alerting import EXIT_ALERTS, Alerting, add_rule_options, prepare
from auditmon.model.alerts import Alert
from auditmon.model.priority import falco_name
from auditmon.monitor.headless import Monitor, problem
from auditmon.record.reader import RecordingError
from auditmon.rules import DEFAULT, falco_alert
from auditmon.sources.replay import ReplayFeed


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="run rules over recordings",
        description="Run rules over recordings and print their alerts (the built-in set "
        f"unless --rules says otherwise).  Exit status: 0, {EXIT_ALERTS} when an alert "
        "reached --fail-on, 2 for a bad rule file or recording.",
    )
    add_rule_options(parser, alerts_file=False)
    parser.add_argument(
        "--json", action="store_true", help="alerts as JSON Lines in Falco's output shape"
    )
    parser.add_argument("recordings", nargs="+", type=Path, metavar="RECORDING")
    parser.set_defaults(func=run)


class _Printer:
    """Prints each alert shown, as a line or as Falco's JSON."""

    def __init__(self, as_json: bool, recording: Path) -> None:
        self.as_json = as_json
        self.recording = recording
        self.hostname = socket.gethostname()

    def alert(self, alert: Alert) -> None:
        if self.as_json:
            print(json.dumps(falco_alert(alert, self.hostname), ensure_ascii=False), flush=True)
            return
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(alert.time))
        print(
            f"{self.recording}: {when} {falco_name(alert.priority)} {alert.rule}: "
            f"{alert.output} [pid {alert.pid}, event {alert.seq}]",
            flush=True,
        )

    def suppressed(self, alert: Alert, count: int = 1) -> None:
        """Counted in the line at the end."""


def run(args: argparse.Namespace) -> int:
    if not args.rules:
        args.rules = [DEFAULT]
    alerting = prepare(args, problem)
    if isinstance(alerting, int):
        return alerting
    for path in args.recordings:
        if not path.is_file():
            problem(f"auditmon check: no such file: {path}")
            return 2
    status = 0
    for path in args.recordings:
        found = check_one(path, alerting, args.json)
        if found == 2:
            return 2
        status = max(status, found)
    return status


def check_one(path: Path, alerting: Alerting, as_json: bool) -> int:
    """Run the rules over one recording; its exit status (0, 2 or EXIT_ALERTS)."""
    monitor = Monitor(rules=alerting.rules, alert_sinks=[_Printer(as_json, path)])
    feed = ReplayFeed(path)
    feed.launch(monitor.pipeline)
    try:
        while not feed.finished:
            feed.step(monitor.pipeline)
    except (RecordingError, OSError) as error:
        problem(f"auditmon check: {path}: {error}")
        return 2
    monitor.close()
    book = monitor.session.alerts
    counts = ", ".join(f"{n:,} {p}" for p, n in book.counts()) or "none"
    suppressed = sum(g.suppressed for g in book.groups())
    also = f" ({suppressed:,} of them suppressed repeats)" if suppressed else ""
    problem(
        f"auditmon check: {path}: {monitor.session.total_events:,} events, alerts: {counts}{also}"
    )
    if feed.recording.cut:
        problem(f"auditmon check: {path}: {feed.recording.cut}")
    return alerting.status(book, 0, problem)
