"""``auditmon attach PID``: follow a Python process; one started without auditmon gets
the agent first (``sources.inject``)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from auditmon import protocol
from auditmon.commands.alerting import Alerting, add_rule_options, prepare
from auditmon.commands.run import add_ui_options, live_monitor
from auditmon.console.summary import print_summary
from auditmon.monitor.headless import Monitor, catching_interrupts, problem
from auditmon.protocol import agent_constants
from auditmon.sources.attach import AttachError, AttachFeed, NoAgent, connect


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "attach",
        help="attach to a running Python process",
        description=(
            "Connect to PID's agent and record until Ctrl-C, --duration or its exit. A "
            "process started without auditmon gets the agent first, through gdb "
            "(its events are recorded from then on)."
        ),
    )
    parser.add_argument("--headless", action="store_true", help="no UI: summary on stderr")
    parser.add_argument(
        "--record",
        metavar="FILE",
        help="write every record to FILE (.jsonl: JSON Lines; otherwise msgpack)",
    )
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="detach after SECONDS")
    parser.add_argument(
        "--no-inject",
        action="store_true",
        help="only attach to a process that runs the agent already (never bring it in)",
    )
    parser.add_argument(
        "--patience",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for a safe point to bring the agent in (default 10)",
    )
    add_ui_options(parser)
    add_rule_options(parser)
    parser.add_argument("pid", type=int, metavar="PID")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    live = not args.headless and sys.stdin.isatty() and sys.stdout.isatty()
    alerting = prepare(args, problem, live=live)
    if isinstance(alerting, int):
        return alerting
    try:
        return _attach(args, alerting, live)
    finally:
        alerting.close()


def _watch(args: argparse.Namespace, alerting: Alerting, live: bool, session: dict) -> int:
    """Watch the ``auditmon run`` session PID is the monitor of: its recording from the
    start, followed until the session ends (or Ctrl-C, --duration)."""
    from pathlib import Path

    from auditmon.record.reader import RecordingError
    from auditmon.sources import sessions
    from auditmon.sources.replay import ReplayFeed

    feed = ReplayFeed(
        Path(session["recording"]), watching=lambda: sessions.find(args.pid) is not None
    )
    if live:
        return follow_live(args, feed, alerting)
    try:
        monitor = Monitor(args.record, alerting.rules, alerting.sinks)
    except OSError as error:
        problem(f"auditmon attach: cannot write {args.record}: {error.strerror or error}")
        return 2
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        feed.launch(monitor.pipeline)
        with catching_interrupts() as interrupts:
            while not feed.finished and interrupts.count == 0:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                feed.step(monitor.pipeline)
    except (OSError, RecordingError) as error:
        problem(f"auditmon attach: the session's recording: {error}")
        return 2
    finally:
        monitor.close()
    if feed.finished:
        problem(f"auditmon: the session of monitor {args.pid} ended")
    print_summary(monitor.session)
    return alerting.status(monitor.session.alerts, 0, problem, monitor.pipeline.recording_failed)


def _attach(args: argparse.Namespace, alerting: Alerting, live: bool) -> int:
    from auditmon.sources import sessions

    session = sessions.find(args.pid)
    if session is not None:  # PID is an auditmon run monitor: watch its session
        return _watch(args, alerting, live, session)
    # The agent's stack settings were fixed when the process started (``auditmon env``):
    # alerts point at a line only where it captures stacks of the watched events.
    try:
        sock = _connect_or_inject(args)
    except AttachError as error:
        problem(f"auditmon attach: {error}")
        return 2
    if live:
        return attach_live(args, sock, alerting)
    try:
        monitor = Monitor(args.record, alerting.rules, alerting.sinks)
    except OSError as error:
        sock.close()
        problem(f"auditmon attach: cannot write {args.record}: {error.strerror or error}")
        return 2
    connection = monitor.ingest.add(sock)
    deadline = None if args.duration is None else time.monotonic() + args.duration
    with catching_interrupts() as interrupts:
        monitor.run_until(
            lambda: (
                connection.closed
                or interrupts.count > 0
                or (deadline is not None and time.monotonic() >= deadline)
            )
        )
    monitor.close()
    if connection.refusal is not None:
        return 2
    process = connection.process
    if process.status == "exited":
        problem(f"auditmon: process {args.pid} exited")
    elif process.status == "disconnected" and process.error is None and interrupts.count == 0:
        if deadline is None or time.monotonic() < deadline:
            problem(f"auditmon: process {args.pid} disconnected")
    print_summary(monitor.session)
    return alerting.status(monitor.session.alerts, 0, problem, monitor.pipeline.recording_failed)


def _connect_or_inject(args: argparse.Namespace):
    """A connection to PID's agent; where it has none, the agent injected first."""
    try:
        return connect(args.pid, protocol.REQUEST_STREAM)
    except NoAgent:
        if args.no_inject:
            raise
    from auditmon.sources.inject import inject

    passed = {agent_constants.ENV_MODE, agent_constants.ENV_SOCKET}
    settings = {
        key: value
        for key, value in os.environ.items()
        if key.startswith("AUDITMON_") and key not in passed
    }
    said = inject(args.pid, settings, patience=args.patience)
    problem(f"auditmon attach: the agent is in process {args.pid} ({said.removeprefix('ok: ')})")
    return connect(args.pid, protocol.REQUEST_STREAM, timeout=args.patience)


def attach_live(args: argparse.Namespace, sock, alerting: Alerting) -> int:
    return follow_live(args, AttachFeed(args.pid, sock), alerting, release=sock.close)


def follow_live(args: argparse.Namespace, feed, alerting: Alerting, release=None) -> int:
    """The live monitor on ``feed`` (an agent's stream, or a session being watched)."""
    from auditmon.ui.app import AuditmonApp

    try:
        monitor = live_monitor(feed, args, alerting)
    except OSError as error:
        if release is not None:
            release()
        problem(f"auditmon attach: cannot write {args.record}: {error.strerror or error}")
        return 2
    monitor.launch()
    AuditmonApp(monitor, duration=args.duration).run()
    monitor.stop()
    refusal = getattr(feed, "refusal", None)  # an agent's: a session's feed has none
    if refusal is not None:
        problem(f"auditmon attach: {refusal}")
        return 2
    return alerting.status(monitor.session.alerts, 0, problem, monitor.pipeline.recording_failed)
