"""The ``auditmon`` command line: one module per subcommand under ``auditmon.commands``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from auditmon import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auditmon",
        description="Watch the CPython audit events (PEP 578) of Python processes.",
    )
    parser.add_argument("--version", action="version", version=f"auditmon {__version__}")
    from auditmon.commands import (
        attach,
        check,
        diff,
        env,
        events,
        ls,
        replay,
        report,
        rules,
        run,
    )

    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in (run, attach, replay, report, diff, check, rules, ls, env, events):
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; Ctrl-C at any point (the imports included) exits quietly, 130."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not hasattr(args, "func"):
            parser.print_help(sys.stderr)
            return 2
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
