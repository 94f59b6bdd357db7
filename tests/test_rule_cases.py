"""The built-in rules, Falco-style: each case in ``tests/rules/*.yaml`` feeds synthetic
audit events to the engine and says how many alerts one rule raises (``alerts: 0``
for what must stay quiet).

A case::

    - case: what it shows
      rule: the rule whose alerts are counted
      process: {argv: [python3, setup.py, egg_info], cwd: /src/pkg}   # optional
      ancestors: [{argv: [pip, install, ./pkg]}]                      # optional, nearest first
      events:
        - [open, ["~/.ssh/id_rsa", r, 524288]]           # [event, args], or a mapping:
        - {event: compile, args: [...], stack: [[file, line, function]], time: 0.5}
      alerts: 1
      output: text the first alert's output contains   # optional
      quiet_at_warning: true   # optional: no rule at all at warning or above

``~`` in a text argument is ``HOME`` (the rules load with the same home), ``@preload@``
this installation's preload library (the one ``auditmon run`` puts in LD_PRELOAD); an argument
``{bytes: text}`` is bytes, ``{object: text}`` an object the agent described.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from auditmon.agentpath import agent_dir
from auditmon.model.alerts import Alert
from auditmon.model.priority import at_least
from auditmon.model.process import Process
from auditmon.protocol import Described, agent_constants
from auditmon.rules import RuleEngine, load_rules

CASES_DIR = Path(__file__).with_name("rules")
HOME = "/home/alice"
T0 = 1_767_225_600.0


def _cases() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            found.append((f"{path.stem}: {case['case']}", case))
    return found


CASES = _cases()


@pytest.fixture(scope="module")
def builtin_rules():
    return load_rules(["default"], home=HOME)


class Collected:
    def __init__(self) -> None:
        self.shown: list[Alert] = []
        self.repeats: list[Alert] = []

    def alert(self, alert: Alert) -> None:
        self.shown.append(alert)

    def suppressed(self, alert: Alert, count: int = 1) -> None:
        self.repeats.extend([alert] * count)


def _value(value: Any) -> Any:
    if isinstance(value, str):
        value = value.replace("@preload@", str(agent_dir() / agent_constants.PRELOAD_LIBRARY))
        return HOME + value[1:] if value.startswith("~") else value
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, dict) and set(value) == {"bytes"}:
        return _value(value["bytes"]).encode()
    if isinstance(value, dict) and set(value) == {"object"}:
        return Described(value["object"])
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    return value


def _process(id_: int, pid: int, ppid: int, facts: dict[str, Any]) -> Process:
    process = Process(id=id_)
    argv = facts.get("argv", ["python3", "app.py"])
    process.apply_hello(
        {
            "pid": pid,
            "ppid": ppid,
            "argv": argv,
            "executable": facts.get("executable", "/usr/bin/python3"),
            "cwd": facts.get("cwd", "/srv/app"),
            "start": T0,
        }
    )
    return process


def run_case(rules, case: dict[str, Any]) -> Collected:
    """Feed the case's events to an engine over ``rules``; what it raised."""
    collected = Collected()
    engine = RuleEngine(rules, [collected])
    ancestors = case.get("ancestors", [])
    pid = 1000 + len(ancestors)
    chain = [
        _process(i + 2, 1000 + len(ancestors) - 1 - i, 999 + len(ancestors) - 1 - i, facts)
        for i, facts in enumerate(ancestors)
    ]
    for ancestor in reversed(chain):
        engine.process_started(ancestor)
    process = _process(1, pid, pid - 1, case.get("process", {}))
    engine.process_started(process)
    batch = []
    for seq, raw in enumerate(case["events"], 1):
        event = raw if isinstance(raw, dict) else {"event": raw[0], "args": raw[1]}
        when = T0 + event.get("time", seq * 0.01)
        stack = event.get("stack")
        batch.append([seq, when, 1, event["event"], _value(event["args"]), stack])
    engine.events(process, batch)
    engine.process_ended(process)
    return collected


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_rule_case(builtin_rules, case):
    names = {rule.name for rule in builtin_rules.rules}
    assert case["rule"] in names, f"no built-in rule {case['rule']!r}"
    collected = run_case(builtin_rules, case)
    mine = [a for a in collected.shown if a.rule == case["rule"]]
    matched = mine + [a for a in collected.repeats if a.rule == case["rule"]]
    assert len(matched) == case["alerts"], [a.output for a in collected.shown]
    if "output" in case:
        assert case["output"] in mine[0].output
    if case.get("quiet_at_warning"):
        loud = [a for a in collected.shown if at_least(a.priority, "warning")]
        assert loud == [], [(a.rule, a.output) for a in loud]


def test_every_builtin_rule_has_a_case_that_fires_and_one_that_does_not(builtin_rules):
    fires = {c["rule"] for _, c in CASES if c["alerts"] > 0}
    quiet = {c["rule"] for _, c in CASES if c["alerts"] == 0}
    names = {rule.name for rule in builtin_rules.rules}
    assert names - fires == set(), "rules no case shows firing"
    assert names - quiet == set(), "rules no case shows staying quiet"
