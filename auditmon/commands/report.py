"""``auditmon report RECORDING``: what a recorded run touched (files, network, commands,
modules, code, native libraries, alerts), in the terminal, as markdown or as JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="what a recorded run touched",
        description=(
            "An inventory of a recording (.jsonl or msgpack): files, network, commands, "
            "modules, code run from strings, native libraries and alerts, per process "
            "tree and in total, each linked to its events (pid:seq)."
        ),
    )
    parser.add_argument("recording", type=Path, metavar="RECORDING")
    form = parser.add_mutually_exclusive_group()
    form.add_argument(
        "--json", action="store_true", help="the report as JSON (docs/report-schema.md)"
    )
    form.add_argument("--markdown", action="store_true", help="the report as markdown")
    parser.add_argument(
        "--limit",
        type=int,
        default=50,
        metavar="N",
        help="rows per section in text and markdown (default 50; 0: all)",
    )
    parser.add_argument(
        "--trees",
        action="store_true",
        help="text and markdown: each process tree's inventory too, not only its counts",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from auditmon.console.progress import reading_progress
    from auditmon.monitor.headless import problem
    from auditmon.record.reader import RecordingError
    from auditmon.report.document import read_report

    if not args.recording.is_file():
        problem(f"auditmon report: no such file: {args.recording}")
        return 2
    try:
        with reading_progress(f"reading {args.recording.name}") as progress:
            report = read_report(args.recording, progress)
    except (RecordingError, OSError) as error:
        problem(f"auditmon report: {error}")
        return 2
    write_report(report, args)
    cut = report["recording"].get("cut")
    if cut:
        problem(f"auditmon report: {args.recording}: {cut}")
    return 0


def write_report(report: dict, args: argparse.Namespace) -> None:
    if args.json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
    elif args.markdown:
        from auditmon.console.report import markdown_report

        sys.stdout.write(markdown_report(report, args.limit, args.trees))
    else:
        from rich.console import Console

        from auditmon.console.report import render_report

        console = Console() if sys.stdout.isatty() else Console(width=160)
        render_report(report, console, args.limit, args.trees)
