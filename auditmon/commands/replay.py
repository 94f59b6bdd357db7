"""``auditmon replay FILE``: investigate a recording in the live screens."""

from __future__ import annotations

import argparse
from pathlib import Path

from auditmon.commands.run import add_ui_options
from auditmon.monitor.headless import problem


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="open a recording in the monitor",
        description="Open a recording (.jsonl or msgpack) in the same screens as a live run.",
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument(
        "--speed",
        type=float,
        metavar="FACTOR",
        help="replay in time, FACTOR times as fast (default: load it all at once)",
    )
    add_ui_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from auditmon.monitor.live import LiveMonitor
    from auditmon.record.reader import read_recording
    from auditmon.sources.replay import ReplayFeed
    from auditmon.ui.app import AuditmonApp

    if not args.file.is_file():
        problem(f"auditmon replay: no such file: {args.file}")
        return 2
    try:
        next(iter(read_recording(args.file)), None)
    except (ValueError, OSError) as error:
        problem(f"auditmon replay: {args.file} is not a readable recording ({error})")
        return 2
    if args.speed is not None and args.speed <= 0:
        problem("auditmon replay: --speed must be positive")
        return 2
    monitor = LiveMonitor(ReplayFeed(args.file, args.speed), recent=args.recent)
    monitor.launch()
    AuditmonApp(monitor).run()
    monitor.stop()
    return 0
