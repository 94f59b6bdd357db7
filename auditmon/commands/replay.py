"""``auditmon replay FILE``: investigate a recording in the live screens."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from auditmon.commands.alerting import Alerting, add_rule_options, prepare
from auditmon.commands.run import add_ui_options, live_monitor
from auditmon.monitor.headless import problem


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="open a recording in the monitor",
        description="Open a recording (.jsonl or msgpack) in the same screens as a live run.",
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument(
        "--headless",
        action="store_true",
        help="no UI: print the summary (automatic when stdout is not a terminal)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        metavar="FACTOR",
        help="replay in time, FACTOR times as fast (default: load it all at once)",
    )
    add_ui_options(parser)
    add_rule_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from auditmon.record.reader import Recording, RecordingError

    if not args.file.is_file():
        problem(f"auditmon replay: no such file: {args.file}")
        return 2
    try:
        next(iter(Recording(args.file)), None)
    except (RecordingError, OSError) as error:
        problem(f"auditmon replay: {args.file} is not a readable recording ({error})")
        return 2
    if args.speed is not None and args.speed <= 0:
        problem("auditmon replay: --speed must be positive")
        return 2
    live = not args.headless and sys.stdout.isatty()
    alerting = prepare(args, problem, live=live)
    if isinstance(alerting, int):
        return alerting
    try:
        if live:
            return replay_live(args, alerting)
        return replay_headless(args, alerting)
    finally:
        alerting.close()


def replay_live(args: argparse.Namespace, alerting: Alerting) -> int:
    from auditmon.sources.replay import ReplayFeed
    from auditmon.ui.app import AuditmonApp

    feed = ReplayFeed(args.file, args.speed)
    monitor = live_monitor(feed, args, alerting)
    monitor.launch()
    AuditmonApp(monitor).run()
    monitor.stop()
    if feed.recording.cut:
        problem(f"auditmon replay: {args.file}: {feed.recording.cut}")
    return alerting.status(monitor.session.alerts, 0, problem)


def replay_headless(args: argparse.Namespace, alerting: Alerting) -> int:
    """The recording's summary, as ``run --headless`` prints it at the end."""
    from auditmon.console.summary import print_summary
    from auditmon.monitor.headless import Monitor
    from auditmon.record.reader import RecordingError
    from auditmon.sources.replay import ReplayFeed

    monitor = Monitor(rules=alerting.rules, alert_sinks=alerting.sinks)
    feed = ReplayFeed(args.file)
    feed.launch(monitor.pipeline)
    try:
        while not feed.finished:
            feed.step(monitor.pipeline)
    except RecordingError as error:
        problem(f"auditmon replay: {error}")
        return 2
    monitor.close()
    print_summary(monitor.session)
    if feed.recording.cut:
        problem(f"auditmon replay: {args.file}: {feed.recording.cut}")
    return alerting.status(monitor.session.alerts, 0, problem)
