"""The options that load rules and say where alerts go (``--rules``, ``--alerts``,
``--fail-on``), shared by ``run``, ``attach`` and ``replay``, and the exit status they
lead to.

Exit status: auditmon's own errors (a bad rule file, a file it cannot write) are 2,
before anything runs.  Otherwise, once the command has finished, an alert at or above
``--fail-on`` makes the status ``EXIT_ALERTS`` (3), whatever the command's own status
was (a malicious ``setup.py`` that also fails the build is news about the package, not
about the build); without such an alert, a recording that stopped early (a full disk)
makes it 2 (the line saying why was printed when it happened), and otherwise the status
is the command's (run) or 0.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field

from auditmon.model.alerts import AlertBook, AlertSink
from auditmon.model.priority import PRIORITIES, at_least, priority_named
from auditmon.rules import DEFAULT, AlertLog, RuleFileError, RuleSet, load_rules

EXIT_ALERTS = 3
"""auditmon's exit status when an alert reached ``--fail-on``."""
EXIT_TROUBLE = 2
"""auditmon's exit status for its own errors."""
RULES_STACK_DEPTH = 16
"""Frames captured for watched events when rules are loaded (enough to reach the
program's own line under urllib or http.client), unless ``--stack-depth`` says."""


def priority_option(text: str) -> str:
    try:
        return priority_named(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_rule_options(parser: argparse.ArgumentParser, alerts_file: bool = True) -> None:
    parser.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="default|FILE",
        help="load rules: 'default' is the built-in set; repeatable, later files "
        "override earlier ones' items",
    )
    if alerts_file:
        parser.add_argument(
            "--alerts",
            metavar="FILE|-",
            help="write alerts as JSON Lines in Falco's output shape to FILE (- for stdout)",
        )
    parser.add_argument(
        "--fail-on",
        type=priority_option,
        metavar="PRIORITY",
        help=f"exit with status {EXIT_ALERTS} if an alert at or above PRIORITY fired "
        f"({', '.join(PRIORITIES)})",
    )


@dataclass
class Alerting:
    """What the rule options asked for, loaded and opened."""

    rules: RuleSet | None = None
    log: AlertLog | None = None
    fail_on: str | None = None
    sinks: list[AlertSink] = field(default_factory=list)

    def agent_options(self, options: dict[str, object]) -> dict[str, object]:
        """``options`` (see ``commands.run.agent_options``) asking the agents for the
        stacks of the events the rules watch, so alerts point at a line of code."""
        if self.rules is None:
            return options
        watched = list(self.rules.watched_events())
        stack = list(options.get("stack") or [])  # type: ignore[call-overload]
        merged = {
            **options,
            "stack": stack + [g for g in watched if g not in stack],
        }
        if options.get("stack_depth") is None:
            merged["stack_depth"] = RULES_STACK_DEPTH
        return merged

    def status(
        self,
        book: AlertBook,
        status: int,
        problem: Callable[[str], None],
        recording_failed: bool = False,
    ) -> int:
        """The exit status, ``status`` being the command's (see the module's docstring)."""
        if self.fail_on is None:
            return EXIT_TROUBLE if recording_failed else status
        reached = sum(n for priority, n in book.counts() if at_least(priority, self.fail_on))
        if not reached:
            return EXIT_TROUBLE if recording_failed else status
        also = f"; the command exited with status {status}" if status else ""
        problem(
            f"auditmon: {reached:,} alert{'s' if reached != 1 else ''} at {self.fail_on} or "
            f"above: exit status {EXIT_ALERTS}{also}"
        )
        return EXIT_ALERTS

    def close(self) -> None:
        if self.log is not None:
            self.log.close()


def prepare(
    args: argparse.Namespace, problem: Callable[[str], None], live: bool = False
) -> Alerting | int:
    """Load the rules and open the alert log the options name; or print one line and
    return exit status 2.  ``--alerts`` or ``--fail-on`` without ``--rules`` load the
    built-in set."""
    specs = list(args.rules)
    target = getattr(args, "alerts", None)
    if not specs and (target is not None or args.fail_on is not None):
        specs = [DEFAULT]
    if not specs:
        return Alerting()
    if target == "-" and live:
        problem("auditmon: --alerts - needs --headless: the monitor's screen is on stdout")
        return 2
    try:
        rules = load_rules(specs)
    except RuleFileError as error:
        problem(str(error))
        return 2
    log = None
    if target is not None:
        try:
            log = AlertLog(target)
        except OSError as error:
            problem(f"auditmon: cannot write {target}: {error.strerror or error}")
            return 2
    return Alerting(rules, log, args.fail_on, [log] if log is not None else [])
