"""``auditmon run``: launch a command with the agent in it and every Python descendant."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from auditmon.commands.alerting import Alerting, add_rule_options, prepare
from auditmon.console.summary import NO_PYTHON_HINT, print_summary
from auditmon.monitor.headless import Monitor, catching_interrupts, problem, wait_with_notice
from auditmon.sources.launch import RunFeed
from auditmon.sources.sessions import advertise


def add_agent_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--events",
        action="append",
        default=[],
        metavar="GLOB",
        help="record only events matching GLOB (repeatable; applied inside the agent)",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="never record events matching GLOB (repeatable)",
    )
    parser.add_argument(
        "--stack",
        action="append",
        default=[],
        metavar="GLOB",
        help="capture the Python stack of events matching GLOB (repeatable)",
    )
    parser.add_argument(
        "--stack-depth",
        type=int,
        default=None,
        metavar="N",
        help="frames to capture with --stack (default 8)",
    )


def add_ui_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--recent",
        type=int,
        default=100,
        metavar="N",
        help="occurrences kept per event and process for drill-down (default 100)",
    )
    parser.add_argument(
        "--refresh",
        type=positive_seconds,
        default=1.0,
        metavar="SECONDS",
        help="how often the screen follows new events (default 1; keys answer at once)",
    )


def live_monitor(feed, args: argparse.Namespace, alerting: Alerting):
    """The live monitor on ``feed`` with the UI options (``add_ui_options``), the
    recording (``--record``, where the command has it) and the rules of ``args``;
    OSError where the recording cannot be written."""
    from auditmon.monitor.live import LiveMonitor

    return LiveMonitor(
        feed,
        getattr(args, "record", None),
        recent=args.recent,
        interval=args.refresh,
        rules=alerting.rules,
        alert_sinks=alerting.sinks,
    )


def positive_seconds(text: str) -> float:
    """An argparse type: a number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.05 <= value <= 60:
        raise argparse.ArgumentTypeError("between 0.05 and 60 seconds")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a command and monitor its Python processes",
        description="Run CMD with the agent injected into it and every Python descendant.",
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="no UI: the command keeps the terminal; a summary goes to stderr at the end",
    )
    parser.add_argument(
        "--record",
        metavar="FILE",
        help="write every record to FILE (.jsonl: JSON Lines; otherwise msgpack)",
    )
    add_agent_options(parser)
    add_ui_options(parser)
    add_rule_options(parser)
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")
    parser.set_defaults(func=run)


def exit_status(returncode: int) -> int:
    """Shell convention: 128+N for a command killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        problem("auditmon run: no command given (usage: auditmon run -- CMD [ARGS...])")
        return 2
    live = not args.headless and interactive()
    alerting = prepare(args, problem, live=live)
    if isinstance(alerting, int):
        return alerting
    try:
        if live:
            return run_live(args, command, alerting)
        return run_headless(args, command, alerting)
    finally:
        alerting.close()


def interactive() -> bool:
    """The live UI needs a terminal on both ends; otherwise auditmon runs headless."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def agent_options(args: argparse.Namespace) -> dict[str, object]:
    """The agent settings chosen on the command line (see ``agent_settings``)."""
    return {
        "events": args.events,
        "exclude": args.exclude,
        "stack": args.stack,
        "stack_depth": args.stack_depth,
    }


def run_live(args: argparse.Namespace, command: list[str], alerting: Alerting) -> int:
    from auditmon.ui.app import AuditmonApp

    feed = RunFeed(command, alerting.agent_options(agent_options(args)))
    try:
        monitor = live_monitor(feed, args, alerting)
    except OSError as error:
        problem(f"auditmon run: cannot write {args.record}: {error.strerror or error}")
        return 2
    try:
        monitor.launch()
    except OSError as error:
        monitor.stop()
        return launch_failed(error, command)
    # The session's spool makes it watchable from another terminal.
    advert = advertise(monitor.spool.path if monitor.spool is not None else None, command)
    AuditmonApp(monitor).run()
    returncode = monitor.terminate()
    monitor.stop()
    if advert is not None:
        advert.close()
    if not monitor.session.processes:
        problem(NO_PYTHON_HINT)
    status = exit_status(returncode if returncode is not None else 0)
    return alerting.status(
        monitor.session.alerts, status, problem, monitor.pipeline.recording_failed
    )


def launch_failed(error: OSError, command: list[str]) -> int:
    """One line and the shell's status for a command that could not start."""
    if isinstance(error, FileNotFoundError):
        problem(f"auditmon run: command not found: {command[0]}")
        return 127
    problem(f"auditmon run: cannot run {command[0]}: {error.strerror or error}")
    return 126


def run_headless(args: argparse.Namespace, command: list[str], alerting: Alerting) -> int:
    try:
        monitor = Monitor(args.record, alerting.rules, alerting.sinks)
    except OSError as error:
        problem(f"auditmon run: cannot write {args.record}: {error.strerror or error}")
        return 2
    feed = RunFeed(command, alerting.agent_options(agent_options(args)), capture=False)
    try:
        feed.launch(monitor.pipeline)
    except OSError as error:
        monitor.close()
        feed.close()
        return launch_failed(error, command)
    assert feed.child is not None
    forwarded = _forward_signals(feed.child)
    # A msgpack recording makes the session watchable from another terminal.
    advert = advertise(Path(args.record) if args.record else None, command)
    try:
        with catching_interrupts() as interrupts:
            monitor.run_until(lambda: feed.command_ended)
            wait_with_notice(monitor, interrupts)
    finally:
        _restore(forwarded)
    returncode = feed.wait()
    monitor.close({feed.child.pid: returncode})
    if advert is not None:  # after the recording is whole: its watchers read to the end
        advert.close()
    feed.close()
    print_summary(monitor.session)
    status = exit_status(returncode)
    return alerting.status(
        monitor.session.alerts, status, problem, monitor.pipeline.recording_failed
    )


def _forward_signals(child: subprocess.Popen) -> dict[int, object]:
    def forward(signum: int, frame: object) -> None:
        try:
            os.kill(child.pid, signum)
        except ProcessLookupError:
            pass

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, forward)
    return previous


def _restore(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
