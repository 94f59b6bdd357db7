"""``auditmon env``: the environment that makes Python processes attachable."""

from __future__ import annotations

import argparse
import json
import os
import shlex

from auditmon.commands.alerting import RULES_STACK_DEPTH
from auditmon.monitor.headless import problem
from auditmon.rules import RuleFileError, load_rules
from auditmon.sources.environment import (
    agent_settings,
    ld_preload_with_library,
    preload_library,
    python_path_with_agent,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "env",
        help="print the environment that makes Python processes attachable",
        description='Use as: eval "$(auditmon env)"; python app.py; then auditmon attach PID.',
    )
    parser.add_argument(
        "--format",
        choices=("sh", "fish", "systemd", "json"),
        default="sh",
        help="sh (default), fish, a systemd Environment= block, or JSON",
    )
    parser.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="default|FILE",
        help="capture the stacks of the events these rules watch, so that `auditmon "
        "attach --rules` can point alerts at a line of code",
    )
    parser.set_defaults(func=run)


def render(
    fmt: str,
    current_python_path: str | None,
    stack: tuple[str, ...] = (),
    current_ld_preload: str | None = None,
) -> str:
    """The settings, PYTHONPATH with the agent first and LD_PRELOAD with its preload
    library first (where it was built), in ``fmt``."""
    settings = agent_settings(
        "attach", stack=stack, stack_depth=RULES_STACK_DEPTH if stack else None
    )
    agent_path = python_path_with_agent(None)
    library = preload_library()
    if fmt == "sh":
        lines = [f"export {name}={shlex.quote(value)}" for name, value in settings.items()]
        lines.append(f"export PYTHONPATH={shlex.quote(agent_path)}${{PYTHONPATH:+:$PYTHONPATH}}")
        if library is not None:
            lines.append(
                f"export LD_PRELOAD={shlex.quote(str(library))}${{LD_PRELOAD:+:$LD_PRELOAD}}"
            )
        return "\n".join(lines)
    if fmt == "fish":
        lines = [f"set -gx {name} {shlex.quote(value)}" for name, value in settings.items()]
        lines.append(f"set -gx PYTHONPATH {shlex.quote(agent_path)} $PYTHONPATH")
        if library is not None:
            lines.append(f"set -gx LD_PRELOAD {shlex.quote(str(library))} $LD_PRELOAD")
        return "\n".join(lines)
    full = dict(settings, PYTHONPATH=python_path_with_agent(current_python_path))
    if library is not None:
        full["LD_PRELOAD"] = ld_preload_with_library(current_ld_preload, library)
    if fmt == "systemd":
        return "\n".join(f'Environment="{name}={value}"' for name, value in full.items())
    return json.dumps(full, indent=2)


def run(args: argparse.Namespace) -> int:
    stack: tuple[str, ...] = ()
    if args.rules:
        try:
            stack = load_rules(args.rules).watched_events()
        except RuleFileError as error:
            problem(str(error))
            return 2
    print(render(args.format, os.environ.get("PYTHONPATH"), stack, os.environ.get("LD_PRELOAD")))
    return 0
