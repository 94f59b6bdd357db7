"""``auditmon diff A B``: what run B touched that run A did not, and the reverse.  Either
side is a recording or a saved ``auditmon report --json``.  Exit status as diff(1)'s:
0 the same, 1 different, 2 trouble."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="what one run touched that another did not",
        description=(
            "Compare two runs' inventories (recordings or saved `report --json`): files, "
            "hosts, URLs, commands, imported packages, code and libraries that one touched "
            "and the other did not. Pids, times, ephemeral ports and temporary names are "
            "left out, so two runs of the same work compare equal. Exit status: 0 the "
            "same, 1 different, 2 trouble."
        ),
    )
    parser.add_argument("a", type=Path, metavar="A")
    parser.add_argument("b", type=Path, metavar="B")
    parser.add_argument("--json", action="store_true", help="the differences as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from auditmon.console.progress import reading_progress
    from auditmon.monitor.headless import problem
    from auditmon.record.reader import RecordingError
    from auditmon.report.diff import diff_reports
    from auditmon.report.document import ReportError, load

    sides = []
    for path in (args.a, args.b):
        if not path.is_file():
            problem(f"auditmon diff: no such file: {path}")
            return 2
        try:
            with reading_progress(f"reading {path.name}") as progress:
                sides.append(load(path, progress))
        except (RecordingError, ReportError, OSError) as error:
            problem(f"auditmon diff: {error}")
            return 2
    diff = diff_reports(sides[0], sides[1], (str(args.a), str(args.b)))
    if args.json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(diff, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
    else:
        from rich.console import Console

        from auditmon.console.diff import render_diff

        render_diff(diff, Console() if sys.stdout.isatty() else Console(width=160))
    for path, side in zip((args.a, args.b), sides):
        if side["recording"].get("cut"):
            problem(f"auditmon diff: {path}: {side['recording']['cut']}")
    return 0 if diff["equal"] else 1
