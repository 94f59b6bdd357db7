"""``auditmon rules [--rules …]``: validate rule files and list their rules."""

from __future__ import annotations

import argparse
import json

from auditmon.model.priority import falco_name
from auditmon.monitor.headless import problem
from auditmon.rules import DEFAULT, Rule, RuleFileError, load_rules


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rules",
        help="validate rule files and list their rules",
        description="Load rule files (the built-in set unless --rules says otherwise), "
        "report the first problem as FILE:LINE:COLUMN: reason (exit status 2), else list "
        "the rules.",
    )
    parser.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="default|FILE",
        help="rule files to load ('default': the built-in set); repeatable",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per rule")
    parser.set_defaults(func=run)


def describe(rule: Rule) -> dict[str, object]:
    return {
        "rule": rule.name,
        "priority": rule.priority,
        "enabled": rule.enabled,
        "tags": list(rule.tags),
        "desc": rule.desc,
        "events": [list(p) if p is not None else None for p in rule.patterns],
        "sequence_within": rule.within,
        "file": f"{rule.place.path}:{rule.place.line}",
    }


def run(args: argparse.Namespace) -> int:
    try:
        rules = load_rules(args.rules or [DEFAULT])
    except RuleFileError as error:
        problem(str(error))
        return 2
    if args.json:
        for rule in rules.rules:
            print(json.dumps(describe(rule)))
        return 0
    enabled = rules.enabled
    print(
        f"{len(rules.rules)} rules ({len(enabled)} enabled), {len(rules.macros)} macros, "
        f"{len(rules.lists)} lists from {len(rules.files)} files; "
        f"{len(rules.watched_events())} event names watched"
    )
    for rule in rules.rules:
        state = "" if rule.enabled else " (disabled)"
        kind = f" sequence within {rule.within:g} s" if rule.sequence else ""
        tags = f" [{', '.join(rule.tags)}]" if rule.tags else ""
        print(f"{falco_name(rule.priority):<13} {rule.name}{state}{kind}{tags}")
    for rule in rules.unindexed():
        problem(
            f"auditmon rules: {rule.place.path}:{rule.place.line}: rule {rule.name!r} names "
            "no event, so it runs for every event (and gets no stacks)"
        )
    return 0
